#!/usr/bin/env bash
# Command one: set up and start the whole system with demo data on the embedded SQLite database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DJANGO_SETTINGS_MODULE=canteen.settings.local
exec .venv/bin/canteen up "$@"
