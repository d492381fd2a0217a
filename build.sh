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
  single_worker_bootstrap dist/pixir.tmp
  mv dist/pixir.tmp dist/pixir
  rm -rf build
  local size
  size=$(du -k dist/pixir | cut -f1)
  echo "built $(pwd)/dist/pixir (${size} KiB)"
}

# On its first run a shiv zipapp extracts itself under ~/.shiv holding a flock, and with
# --compile-pyc compiles the .pyc files in a process pool (one forked worker per CPU) that
# inherits that lock. A first run killed there (SIGKILL, `timeout`'s SIGTERM, the OOM killer)
# leaves the workers behind, blocked forever and still holding the lock, and every later
# pixir run waits on it forever. So compile in the extracting process itself: replace the
# zip's __main__.py with one that makes shiv's extraction use one worker (no pool). The
# entries keep their order, timestamps and modes, so the build stays reproducible.
single_worker_bootstrap() {
  "$PY" - "$1" <<'EOF'
import sys, zipfile

MAIN = b'''# -*- coding: utf-8 -*-
import _bootstrap

_extract = _bootstrap.extract_site_packages


def extract_site_packages(archive, target, compile_pyc=False, compile_workers=0, force=False):
    # One worker: compileall then runs in this process, and no forked child can outlive a
    # killed first run while holding shiv's extraction lock (see build.sh).
    return _extract(archive, target, compile_pyc, 1, force)


_bootstrap.extract_site_packages = extract_site_packages
_bootstrap.bootstrap()
'''

path = sys.argv[1]
data = open(path, "rb").read()
shebang = data[: data.index(b"\n") + 1]
with zipfile.ZipFile(path) as src:
    entries = [(info, src.read(info)) for info in src.infolist()]
assert any(info.filename == "__main__.py" for info, _ in entries), "no __main__.py in the zipapp"
with open(path, "wb") as fh:
    fh.write(shebang)
    with zipfile.ZipFile(fh, "w") as out:
        for info, body in entries:
            out.writestr(info, MAIN if info.filename == "__main__.py" else body)
EOF
  chmod +x "$1"
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
