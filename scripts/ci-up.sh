#!/usr/bin/env bash
# CI: the first start of a PostgreSQL deployment. `canteen up` on an empty database (migrate,
# seed, web and its companions) must answer /healthz; then it is stopped. Bounded in time: a
# smaller demo (CANTEEN_DEMO_SEED_ARGS) and a deadline for the whole start.
# Usage: bash scripts/ci-up.sh [port] [deadline seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8765}"
deadline="${2:-600}"
db="canteen_ci_up_$$"
log="$(mktemp -d)/canteen-up.log"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export CANTEEN_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export CANTEEN_BIND="127.0.0.1:$port"
export CANTEEN_DEMO_SEED_ARGS="${CANTEEN_DEMO_SEED_ARGS:---schools 1 --campuses 1 --students-per-campus 6}"
export CANTEEN_WEB_WORKERS=1
# As a deployment runs (DEBUG on keeps every query of the seed in memory and slows it).
export CANTEEN_DEBUG="${CANTEEN_DEBUG:-0}"
started=$(date +%s)
# python -m: the `canteen` script of a shared virtualenv may import another checkout.
setsid .venv/bin/python -m canteen.cli up >"$log" 2>&1 &
up_pid=$!
stop() {
  kill -INT "$up_pid" 2>/dev/null || true  # `up` stops web and its companions on Ctrl+C
  for _ in $(seq 1 20); do kill -0 "$up_pid" 2>/dev/null || break; sleep 1; done
  kill -TERM -- "-$up_pid" 2>/dev/null || true  # anything left in its process group
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap stop EXIT
ok=0
while [ $(( $(date +%s) - started )) -lt "$deadline" ]; do
  if ! kill -0 "$up_pid" 2>/dev/null; then
    echo "canteen up exited before /healthz answered:" >&2
    break
  fi
  if curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"ok"'; then ok=1; break; fi
  sleep 2
done
if [ "$ok" = 1 ]; then
  echo "canteen up on an empty PostgreSQL database: /healthz ok after $(( $(date +%s) - started )) s"
  grep -E "完成 Done|→" "$log" | sed 's/^/  /'
else
  tail -40 "$log" >&2
  echo "canteen up: no /healthz within $deadline s" >&2
  exit 1
fi
