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
    rm -rf "$VENV/wheelhouse"
    echo "$want" >"$stamp"
  fi
  wheelhouse
}

# Wheels of pixir's runtime dependencies, of pip and of its build backend, so that the tests
# can `pip install` and `pipx install` pixir into fresh environments the way a user does,
# without the network.
wheelhouse() {
  local house="$VENV/wheelhouse"
  [ -d "$house" ] && return
  echo "build: collecting dependency wheels into $house" >&2
  rm -rf "$house.tmp"
  "$PY" -m pip wheel --quiet --no-build-isolation --wheel-dir "$house.tmp" \
    pip "setuptools>=77" wheel . >&2
  rm -f "$house.tmp"/pixir-*.whl  # the tests build their own from the working tree
  mv "$house.tmp" "$house"
}

build() {
  venv
  mkdir -p dist
  # Reproducible: fixed timestamps, and shiv's build id is a hash of the contents.
  export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
  rm -rf build
  "$VENV/bin/shiv" --quiet \
    --console-script pixir \
    --output-file dist/pixir.shiv \
    --python '/usr/bin/env python3' \
    --compressed --compile-pyc --reproducible \
    --no-build-isolation . >&2
  fast_launcher dist/pixir.shiv dist/pixir.tmp
  rm dist/pixir.shiv
  chmod +x dist/pixir.tmp
  mv dist/pixir.tmp dist/pixir
  rm -rf build
  local size
  size=$(du -k dist/pixir | cut -f1)
  echo "built $(pwd)/dist/pixir (${size} KiB)"
}

# Replace shiv's __main__.py with a launcher that, once this build is extracted, runs pixir
# straight from the extracted site-packages: shiv's bootstrap imports zipfile, pathlib,
# subprocess, compileall, hashlib, shutil... on every run, ~50 ms that tripled the start-up
# of `pixir --version` (the start-up targets of docs/performance.md, measured in bench/). The first
# run, and any run with a SHIV_* setting other than SHIV_ROOT, still goes through shiv's
# own bootstrap, which extracts and honours every option. Entries, order and timestamps are
# kept, so the build stays reproducible.
#
# That first run extracts under ~/.shiv holding a flock, and with --compile-pyc shiv compiles
# in a process pool (one forked worker per CPU) that inherits the lock. A first run killed
# there (SIGKILL, `timeout`'s SIGTERM, the OOM killer) would leave workers behind, blocked
# and still holding the lock, and every later run would wait on it forever. So the launcher
# makes shiv compile with one worker, in the extracting process itself.
fast_launcher() {
  "$PY" - "$1" "$2" <<'EOF'
import json
import sys
import zipfile

LAUNCHER = """\
# -*- coding: utf-8 -*-
# pixir's launcher (build.sh): shiv's bootstrap only when extraction or a SHIV_* option
# needs it. Every run holds its extraction in use, and the run that unpacks a new build
# removes older builds' extractions nobody runs (pixir/shivcache.py).
import os
import sys

_AGAIN = os.environ.pop("PIXIR_LAUNCH_AGAIN", None)


def _extraction():
    if any(k.startswith("SHIV_") and k != "SHIV_ROOT" for k in os.environ):
        return None
    root = os.environ.get("SHIV_ROOT") or "~/.shiv"
    if root.startswith("$"):
        return None
    name = os.path.basename(os.path.realpath(sys.argv[0]))
    path = os.path.join(os.path.expanduser(root), name + "_@BUILD_ID@")
    return path if os.path.isdir(os.path.join(path, "site-packages")) else None


def _held(extraction):
    try:
        from pixir.shivcache import hold
    except ImportError:  # removed while we started
        return False
    return hold(extraction)


def _again():
    # Another build's first run removed this extraction while we started: run again,
    # which unpacks it anew (once; a second failure runs on regardless).
    if _AGAIN is None:
        os.environ["PIXIR_LAUNCH_AGAIN"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])


def _fast(extraction):
    import site

    # as shiv does: our site-packages before the interpreter's own
    length = len(sys.path)
    index = next(
        (i for i, p in enumerate(sys.path)
         if os.path.splitext(os.path.basename(p))[0] in ("site-packages", "dist-packages")),
        length,
    )
    site.addsitedir(os.path.join(extraction, "site-packages"))
    sys.path = sys.path[:index] + sys.path[length:] + sys.path[index:length]
    if not _held(extraction):
        _again()
    from pixir.cli import main

    sys.exit(main())


def _bootstrap_run():
    import _bootstrap

    found = []  # the extraction shiv uses, and whether this run unpacked it
    unpacked = []
    cache_path = _bootstrap.cache_path
    extract = _bootstrap.extract_site_packages
    import_string = _bootstrap.import_string

    def remembered(*args):
        path = cache_path(*args)
        found.append(str(path))
        return path

    def extract_in_this_process(archive, target, compile_pyc=False, workers=0, force=False):
        # one worker: compileall runs here, so no forked child outlives a killed first run
        # while holding shiv's extraction lock (build.sh)
        fresh = force or not os.path.exists(str(target))
        extract(archive, target, compile_pyc, 1, force)
        if fresh:
            unpacked.append(str(target))

    def held_first(name):
        # before the entry point is imported: hold the extraction, and after unpacking a
        # new build, remove the older ones nobody runs
        if found:
            if not _held(found[-1]):
                _again()
            elif unpacked:
                from pixir.shivcache import prune

                prune(found[-1])
        return import_string(name)

    _bootstrap.cache_path = remembered
    _bootstrap.extract_site_packages = extract_in_this_process
    _bootstrap.import_string = held_first
    _bootstrap.bootstrap()


_path = _extraction()
if _path is not None:
    _fast(_path)
else:
    _bootstrap_run()
"""

source, target = sys.argv[1], sys.argv[2]
with open(source, "rb") as fh:
    shebang = fh.read(4096).split(b"PK\x03\x04", 1)[0]
with zipfile.ZipFile(source) as zin, open(target, "wb") as out:
    build_id = json.loads(zin.read("environment.json"))["build_id"]
    out.write(shebang)
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "__main__.py":
                body = LAUNCHER.replace("@BUILD_ID@", build_id).encode()
            zout.writestr(info, body)
EOF
}

# zsh and fish for the completion tests (tests/e2e/test_completion.py): installed when
# missing and this machine allows it (root with apt-get); otherwise those tests skip and say
# why. Never fatal.
shells() {
  local missing=() shell
  for shell in zsh fish; do
    command -v "$shell" >/dev/null 2>&1 || missing+=("$shell")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "build: ${missing[*]} not installed; their completion tests will skip" >&2
    return 0
  fi
  echo "build: installing ${missing[*]} (apt-get) for the completion tests" >&2
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends)
  if ! "${apt[@]}" "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    "${apt[@]}" "${missing[@]}" >/dev/null 2>&1 ||
      echo "build: could not install ${missing[*]}; their completion tests will skip" >&2
  fi
  return 0
}

run_tests() {
  shells
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
