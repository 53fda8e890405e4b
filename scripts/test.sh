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
if [ "$status" = "0" ] && [ "$#" = "0" ]; then
  # The demo runs on SQLite: the domains with a separate SQLite path (checkout, ledger, rollups)
  # run their tests there too. Tests that need PostgreSQL skip themselves.
  echo "== the same domains on SQLite (the demo's database)"
  sqlite_db="$(mktemp -d)/canteen-test.sqlite3"
  set +e
  CANTEEN_DATABASE_URL="sqlite:///$sqlite_db" .venv/bin/pytest -q -p no:cacheprovider \
    canteen/core canteen/ledger canteen/consumption canteen/supervision
  status=$?
  set -e
fi
exit "$status"
