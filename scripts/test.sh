#!/usr/bin/env bash
# The project's one test command (README Quickstart, and .ci/run):
# set up .venv, then lint, strict type-check, Terraform checks and the whole pytest suite.
# Needs only python3 with venv/pip and the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
step() { printf '\n== %s\n' "$*"; }

step "environment (.venv)"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[all,dev,bench]'
# iproute2 for the loopback-only network namespace of the test step (CI runs as root).
if ! command -v ip >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq iproute2) >/dev/null 2>&1 || true
fi

step "independent S3 servers (MiniStack in .venv-ministack, s3rver in .node)"
# MiniStack pins an old botocore, so it gets its own environment; it runs as a server.
[ -x .venv-ministack/bin/python ] || "$python" -m venv .venv-ministack
.venv-ministack/bin/python -c 'import ministack' 2>/dev/null ||
  .venv-ministack/bin/python -m pip install -q --disable-pip-version-check 'ministack==1.5.33'
# s3rver (npm) ignores write preconditions: the contract suite must fail against it.
if [ ! -f .node/node_modules/s3rver/bin/s3rver.js ]; then
  if command -v npm >/dev/null; then
    mkdir -p .node && npm install --prefix .node --no-audit --no-fund --silent 's3rver@3.7.1'
  else
    echo "npm not found: the s3rver tests will be skipped"
  fi
fi

step "lint (ruff)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "types (mypy --strict)"
# mypy cannot follow setuptools' package-dir mapping (core/ -> sessionstore,
# adapters/ -> sessionstore.adapters), so give it the package as installed.
rm -rf .typecheck && mkdir -p .typecheck/sessionstore
for path in core/*; do ln -s "../../$path" ".typecheck/sessionstore/$(basename "$path")"; done
ln -s ../../adapters .typecheck/sessionstore/adapters
MYPYPATH=.typecheck:tests .venv/bin/mypy -p sessionstore
MYPYPATH=.typecheck:tests .venv/bin/mypy --explicit-package-bases tests $( [ -d benchmarks ] && echo benchmarks )

if [ -f scripts/check_terraform.sh ]; then
  step "terraform (fmt, validate, test, checkov; offline)"
  bash scripts/check_terraform.sh
fi

step "tests (pytest)"
# Arguments go to pytest: `bash scripts/test.sh tests/model` runs the model checker alone;
# SESSIONSTORE_MODEL_SOAK=1 makes it a long soak (see tests/model/test_model.py).
# Loopback only, whatever the language of the code under test: obstore's Rust sockets
# bypass the Python audit hook in tests/support/loopback.py, so the suite runs in a
# network namespace of its own whose only interface is lo (every other address is
# unreachable at once; nothing can leave the machine). Needs root and util-linux's
# unshare plus iproute2's ip; without them, say so and run as before.
if [ "${SESSIONSTORE_NO_NETNS:-}" != 1 ] && command -v unshare >/dev/null && command -v ip >/dev/null \
  && unshare -n true 2>/dev/null; then
  echo "(network namespace: loopback only)"
  exec unshare -n sh -c 'ip link set lo up && exec "$0" -m pytest "$@"' .venv/bin/python "$@"
else
  echo "NOTE: running pytest without a loopback-only network namespace" \
    "(needs root, unshare and ip; or SESSIONSTORE_NO_NETNS=1 was set)"
  .venv/bin/python -m pytest "$@"
fi
