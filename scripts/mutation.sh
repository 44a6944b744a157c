#!/usr/bin/env bash
# Mutation testing (tracker issue 12). Not part of CI: about an hour on two busy cores.
# Stages core/ and adapters/ as src/sessionstore beside tests/ (scripts/mutation_stage.py
# says why and what is mutated), then runs mutmut 3 there with this checkout's .venv.
#   bash scripts/mutation.sh                 # the run; results in $MUTATION_STAGE/mutants
#   MUTATION_RESUME=1 bash scripts/mutation.sh [MUTANT...]   # keep earlier results, rerun these
#   MUTATION_BASELINE=1 bash scripts/mutation.sh    # without the tests added to kill mutants
# Survivors: `cd $MUTATION_STAGE && mutmut results`, `mutmut show NAME`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
suffix=
[ "${MUTATION_MODEL:-}" != 1 ] || suffix=-model
[ "${MUTATION_OBSTORE:-}" != 1 ] || suffix=-obstore
stage=${MUTATION_STAGE:-/tmp/sessionstore-mutation$suffix}
children=${MUTATION_CHILDREN:-1}

.venv/bin/python -c 'import mutmut' 2>/dev/null ||
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[mutation]'
[ "${MUTATION_RESUME:-}" = 1 ] || rm -rf "$stage"
flags=()
[ "${MUTATION_BASELINE:-}" != 1 ] || flags+=(--baseline)
[ "${MUTATION_MODEL:-}" != 1 ] || flags+=(--model)
[ "${MUTATION_OBSTORE:-}" != 1 ] || flags+=(--obstore)
.venv/bin/python scripts/mutation_stage.py "$root" "$stage" "${flags[@]}"

cd "$stage"
# Loopback only, as in scripts/test.sh: a network namespace whose only interface is lo.
run=(nice -n 10 "$root/.venv/bin/mutmut" run --max-children "$children" "$@")
if [ "${SESSIONSTORE_NO_NETNS:-}" != 1 ] && command -v unshare >/dev/null \
  && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${run[@]}"
else
  "${run[@]}"
fi
"$root/.venv/bin/mutmut" results
"$root/.venv/bin/python" "$root/scripts/mutation_stage.py" --report "$stage"
