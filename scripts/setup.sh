#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (as root, or with sudo):
# system packages, a virtual environment with the Python dependencies, the front-end libraries.
# Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# chromium: page tests in a real browser; ffmpeg: kitchen video; fonts-noto-cjk: Chinese in PDFs,
# labels and screenshots; nodejs/npm: front-end libraries (ECharts, hls.js) served locally;
# gettext: msgfmt compiles the interface's catalogs (canteen/locale).
# fonts-dejavu-core: the clock burnt into the simulated kitchen cameras. postgresql-client: pgbench
# (bench/ledger.py's reference); wrk: the load generator of bench/checkout.py, and valgrind its
# count of the web process's instructions per checkout; redis-server: the shared cache production
# uses (CANTEEN_REDIS_URL), exercised by a test. g++, make, libopenblas-dev: dlib is compiled here
# against OpenBLAS (the face embedding 5× faster than the prebuilt wheel's own matrix code;
# docs/decisions.md); pip brings CMake itself.
APT_PACKAGES=(chromium ffmpeg fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core nodejs npm postgresql-client wrk valgrind redis-server g++ make libopenblas-dev gettext)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # node and npm may come from elsewhere (nvm, a node image): only install them if absent.
  filtered=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      nodejs) command -v node >/dev/null 2>&1 || filtered+=("$pkg") ;;
      npm) command -v npm >/dev/null 2>&1 || filtered+=("$pkg") ;;
      postgresql-client) command -v psql >/dev/null 2>&1 || filtered+=("$pkg") ;;
      *) filtered+=("$pkg") ;;
    esac
  done
  if [ "${#filtered[@]}" -gt 0 ]; then
    echo "→ apt-get install ${filtered[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${filtered[@]}"
  fi
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "→ python venv (.venv) with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
echo "→ pip install -r requirements.txt"
.venv/bin/python -m pip install -q --upgrade pip
# dlib is compiled from source against OpenBLAS. An environment made before that holds the prebuilt
# wheel's files under the same module name: take them out first.
dlib_blas() { .venv/bin/python -c "import dlib, sys; sys.exit(not dlib.DLIB_USE_BLAS)" >/dev/null 2>&1; }
if .venv/bin/python -m pip show -q dlib-bin >/dev/null 2>&1; then .venv/bin/python -m pip uninstall -q -y dlib-bin dlib; fi
dlib_blas || echo "  (dlib is compiled here the first time: about 6 minutes on 2 cores; pip keeps the wheel)"
DLIB_BUILD=(env DLIB_USE_BLAS=ON DLIB_NO_GUI_SUPPORT=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)")
"${DLIB_BUILD[@]}" .venv/bin/python -m pip install -q -r requirements.txt
if ! dlib_blas; then
  # A wheel that pip built and kept before libopenblas-dev was installed: drop it, build again.
  echo "→ dlib again from source, with OpenBLAS"
  .venv/bin/python -m pip cache remove dlib >/dev/null 2>&1 || true
  "${DLIB_BUILD[@]}" .venv/bin/python -m pip install -q --force-reinstall --no-deps "$(grep '^dlib==' requirements.txt)"
  dlib_blas || { echo "✘ dlib has no BLAS (is libopenblas-dev installed?): the face embedding would be 5× slower" >&2; exit 1; }
fi
.venv/bin/python -m pip install -q --no-deps -e .

# Real face photos for the identity tests: the insightface wheel is read as a zip for its sample
# images and never installed (no PyPI package ships labelled faces otherwise).
if ! ls var/test-assets/insightface-2.1-*.whl >/dev/null 2>&1; then
  echo "→ test face images (insightface wheel, read only for its images)"
  mkdir -p var/test-assets
  .venv/bin/python -m pip download -q --no-deps -d var/test-assets insightface==2.1 || echo "  (not available: multi-person face tests will be skipped)"
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  echo "→ npm install (front-end libraries)"
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules
fi

# gettext catalogs (generated from the code by `manage.py i18n_catalogs`): msgfmt from Debian's gettext.
for po in canteen/locale/*/LC_MESSAGES/django.po; do
  msgfmt --check -o "${po%.po}.mo" "$po"
done
echo "✓ setup done"
