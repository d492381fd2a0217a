#!/usr/bin/env bash
# Build dist/pixir (a shiv zipapp) and run the tests.
#   ./build.sh          create/refresh .venv, build dist/pixir, print its size and path
#   ./build.sh test     build, then lint and run the whole suite (unit + end-to-end)
#   ./build.sh bench    build, then run the benchmarks in bench/ (not part of CI)
# Needs only python3 (>= 3.10) with venv and pip, git, and access to PyPI on first run.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
PY="$VENV/bin/python"

venv() {
  if [ ! -x "$PY" ]; then
    echo "build: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the declared dependencies change.
  local stamp="$VENV/.pixir-deps" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "build: installing build and test dependencies into $VENV" >&2
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "setuptools>=77" wheel
    "$PY" -m pip install --quiet -e ".[test,build]"
    echo "$want" >"$stamp"
  fi
}

build() {
  venv
  mkdir -p dist
  # Reproducible: fixed timestamps, and shiv's build id is a hash of the contents.
  export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
  rm -rf build
  "$VENV/bin/shiv" --quiet \
    --console-script pixir \
    --output-file dist/pixir.tmp \
    --python '/usr/bin/env python3' \
    --compressed --compile-pyc --reproducible \
    --no-build-isolation . >&2
  mv dist/pixir.tmp dist/pixir
  rm -rf build
  local size
  size=$(du -k dist/pixir | cut -f1)
  echo "built $(pwd)/dist/pixir (${size} KiB)"
}

run_tests() {
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  local rc=0
  "$PY" -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "build: pytest collected no tests — that is a failure, not a pass" >&2
    exit 1
  fi
  return "$rc"
}

case "${1:-build}" in
  build) build ;;
  test) shift; build; run_tests "$@" ;;
  bench) shift; build; "$PY" bench/run.py "$@" ;;
  *) echo "usage: ./build.sh [build|test|bench]" >&2; exit 2 ;;
esac
