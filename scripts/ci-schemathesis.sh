#!/usr/bin/env bash
# CI: schemathesis over the OpenAPI schema against a live server of the demo data, as the
# district regulator, a school admin, a guardian, a supplier and a window terminal. Checks: no
# server errors, status codes the schema lists, response bodies that match it. Bounded: a small
# demo and a few examples per operation. Prints one summary line per role; exit 1 on any failure.
# Usage: bash scripts/ci-schemathesis.sh [port] [examples per operation]
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8766}"
examples="${2:-${CANTEEN_FUZZ_EXAMPLES:-10}}"
db="canteen_ci_fuzz_$$"
work="$(mktemp -d)"
export CANTEEN_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export DJANGO_SETTINGS_MODULE=canteen.settings.local
export CANTEEN_DEBUG=0
# The fuzz run tests the API itself: tokens are issued below (the second factor and the login
# lockout have their own tests), and the public trace pages' per-address budget stays out of its way.
export CANTEEN_LOGIN_FAILURE_LIMIT=100000
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py demo_seed --schools 1 --campuses 1 --students-per-campus 6 >"$work/seed.log" 2>&1
# One API token per role, and the terminal's token from the seed's output.
.venv/bin/python manage.py shell -v 0 -c "
from canteen.accounts.services import token_issue
from canteen.org.models import User
for name in ['district', 'school01', 'guardian01', 'supplier01']:
    print(name, token_issue(user=User.objects.get(username=name), name='ci-fuzz')[1])
" >"$work/tokens"
terminal_token="$(grep 'CANTEEN_TERMINAL_TOKEN' "$work/seed.log" | awk '{print $1}' | head -1)"
echo "terminal $terminal_token" >>"$work/tokens"
.venv/bin/python -m gunicorn canteen.wsgi:application --bind "127.0.0.1:$port" --workers 2 --threads 4 \
  --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 1; done
# The schema once, from the server (its generation takes seconds): every run reads the file.
curl -fsS --max-time 180 "http://127.0.0.1:$port/api/schema/?format=json" -o "$work/schema.json"
failed=0
while read -r role token; do
  scheme="Token"
  [ "$role" = terminal ] && scheme="Terminal"
  set +e
  .venv/bin/st run "$work/schema.json" \
    --url "http://127.0.0.1:$port" \
    -H "Authorization: $scheme $token" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "$examples" --workers 2 --request-timeout 30 \
    --exclude-path-regex '/auth/token/$' \
    --phases examples,fuzzing >"$work/st-$role.log" 2>&1
  status=$?
  set -e
  summary="$(grep -E '[0-9]+ (passed|failed)|No issues found|operations? tested|Test cases' "$work/st-$role.log" | tr '\n' ' ')"
  echo "schemathesis [$role]: exit $status · $summary"
  if [ "$status" != 0 ]; then failed=1; sed -n '/FAILURES/,$p' "$work/st-$role.log" | head -80 || true; fi
done <"$work/tokens"
exit "$failed"
