#!/usr/bin/env bash
# Command two: install what is missing, then run every test against PostgreSQL.
# Extra arguments go to pytest (e.g. scripts/test.sh canteen/ledger -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure-services.sh
export DJANGO_SETTINGS_MODULE=canteen.settings.test
set +e
.venv/bin/pytest "$@"
status=$?
set -e
if [ "$status" = "5" ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
