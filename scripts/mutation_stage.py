"""Build the staging tree that ``scripts/mutation.sh`` runs mutmut in (tracker issue 12).

mutmut 3 copies the sources into ``mutants/`` and names modules after their paths, which
does not fit this repository's ``package-dir`` mapping (``core/`` is ``sessionstore``,
``adapters/`` is ``sessionstore.adapters``). So the sources are staged in a ``src/``
layout (``src/sessionstore``, ``src/sessionstore/adapters``) beside a copy of ``tests/``
and a ``pyproject.toml`` that carries the ``[tool.mutmut]`` settings. mutmut puts
``mutants/src`` first on ``sys.path``, and the path finder runs before setuptools'
editable finder, so the tests import the mutated copy.

Two source transforms, applied to the staged copies only (behaviour unchanged):

* mutmut 3 does not mutate decorated functions other than static/class methods, so a
  ``@property`` of a mutated file (``Attempt.may_have_landed``, ...) is staged as a plain
  method ``_prop_<name>`` plus ``<name> = property(_prop_<name>)``, and gets mutated.
* ``adapters/s3/_obstore.py`` is mostly the transport; only its outcome classification
  (``_Attempt``, ``_first_line``, ``_classify``, ``_translate`` and
  ``ObstoreTransport._decide_write``) is mutated: every other function and class gets a
  ``# pragma: no mutate block`` on its header line.

Files are copied with their modification times, so a rerun on an existing stage
(``MUTATION_RESUME=1``) keeps mutmut's results for unchanged files.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import libcst as cst

MUTATED = [
    "src/sessionstore/contract.py",
    "src/sessionstore/ownership.py",
    "src/sessionstore/codec.py",
    "src/sessionstore/adapters/s3/_attempts.py",
    "src/sessionstore/adapters/s3/_errors.py",
    "src/sessionstore/adapters/s3/_obstore.py",
    "src/sessionstore/adapters/gcs/_errors.py",
    "src/sessionstore/adapters/gcs/_retry.py",
]

OBSTORE_KEPT = {"_Attempt", "_first_line", "_classify", "_translate", "_decide_write"}

#: What pytest runs. mutmut runs, for each mutant, only the tests of this selection that
#: executed the mutated function when it collected its stats (a mutant no selected test
#: reaches is "no tests"). The fast tests: the contract suite on memory and filesystem,
#: and the S3 and GCS error, retry and fault-injection tests (emulators on loopback).
FAST_TESTS = [
    "tests/core/test_contract_local.py",
    "tests/core/test_mutation_kills.py",
    "tests/s3/test_errors.py",
    "tests/s3/test_retries.py",
    "tests/s3/test_faults.py",
    "tests/s3/test_obstore_faults.py",
    "tests/s3/test_obstore_transport.py",
    "tests/s3/test_classification_mutants.py",
    "tests/gcs/test_errors.py",
    "tests/gcs/test_retries.py",
    "tests/gcs/test_faults.py",
    "tests/gcs/test_classification_mutants.py",
]

#: obstore's runtime (Rust, tokio) does not survive a fork: a worker forked from mutmut's
#: main process after that process ran an obstore test for its stats hangs until its
#: timeout. So the main stage holds these files empty (the selection keeps their names),
#: and ``--obstore`` stages ``_obstore.py`` alone with them, its workers forked from a
#: fork server that never ran a test.
OBSTORE_TESTS = [
    "tests/s3/test_obstore_faults.py",
    "tests/s3/test_obstore_transport.py",
    "tests/s3/test_obstore_classification_mutants.py",
]
OBSTORE_MUTATED = ["src/sessionstore/adapters/s3/_obstore.py"]

#: With ``--model``: the model checker at its CI budget on memory, S3 (moto) and GCS.
#: (The filesystem model adds only filesystem code, which is not mutated, at 3x the cost.)
MODEL_TESTS = [
    "tests/model/test_model.py::test_model_memory",
    "tests/model/test_model.py::test_model_s3_moto",
    "tests/model/test_model.py::test_model_gcs",
]

#: The tests added for this mutation run: a baseline run (``--baseline``) stages them
#: empty, to measure the score the suite had before them.
NEW_TESTS = [
    "tests/core/test_mutation_kills.py",
    "tests/s3/test_classification_mutants.py",
    "tests/s3/test_obstore_classification_mutants.py",
    "tests/gcs/test_classification_mutants.py",
]

MUTMUT_SETTINGS = """
[tool.mutmut]
source_paths = ["src/sessionstore"]
only_mutate = {mutated!r}
pytest_add_cli_args_test_selection = {selection!r}
pytest_add_cli_args = ["-p", "no:cacheprovider"]
# one git-less stage: nothing to compare against
use_git_change_detection = false
"""


def _pragma(header: cst.TrailingWhitespace) -> cst.TrailingWhitespace:
    return header.with_changes(comment=cst.Comment("# pragma: no mutate block"))


class _Stage(cst.CSTTransformer):
    def __init__(self, *, obstore: bool) -> None:
        self.obstore = obstore
        self.depth = 0  # classes entered
        self.kept = 0  # kept obstore classes entered

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.depth += 1
        self.kept += node.name.value in OBSTORE_KEPT
        return True

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        self.kept -= original.name.value in OBSTORE_KEPT
        if not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body: list[cst.BaseStatement] = []
        for statement in updated.body.body:
            if isinstance(statement, cst.FunctionDef) and _is_plain_property(statement):
                name = statement.name.value
                body.append(statement.with_changes(name=cst.Name(f"_prop_{name}"), decorators=[]))
                body.append(cst.parse_statement(f"{name} = property(_prop_{name})"))
            else:
                body.append(statement)
        block = updated.body.with_changes(body=body)
        updated = updated.with_changes(body=block)
        if self.obstore and self.depth == 0 and original.name.value not in OBSTORE_KEPT:
            if original.name.value == "ObstoreTransport":
                return updated  # its methods are marked one by one
            return updated.with_changes(body=block.with_changes(header=_pragma(block.header)))
        return updated

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        if not self.obstore or self.kept or original.name.value in OBSTORE_KEPT:
            return updated
        if not isinstance(updated.body, cst.IndentedBlock):
            return updated
        return updated.with_changes(
            body=updated.body.with_changes(header=_pragma(updated.body.header))
        )


def _is_plain_property(function: cst.FunctionDef) -> bool:
    return (
        len(function.decorators) == 1
        and isinstance(function.decorators[0].decorator, cst.Name)
        and function.decorators[0].decorator.value == "property"
    )


def transform(path: Path, *, obstore: bool) -> None:
    module = cst.parse_module(path.read_text())
    path.write_text(module.visit(_Stage(obstore=obstore)).code)


def _origin(staged: str) -> str:
    """The repository path of a staged source file."""
    relative = staged.removeprefix("src/sessionstore/")
    return relative if relative.startswith("adapters/") else f"core/{relative}"


def main(root: Path, stage: Path, *, baseline: bool, model: bool, obstore: bool) -> None:
    selection = FAST_TESTS + (MODEL_TESTS if model else [])
    mutated = MUTATED
    settings = MUTMUT_SETTINGS
    if obstore:
        selection, mutated = OBSTORE_TESTS, OBSTORE_MUTATED
        settings += 'process_isolation = "forkserver"\n'

    stage.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        shutil.rmtree(stage / name, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(root / "core", stage / "src/sessionstore", ignore=ignore)
    shutil.copytree(root / "adapters", stage / "src/sessionstore/adapters", ignore=ignore)
    shutil.copytree(root / "tests", stage / "tests", ignore=ignore)
    for relative in MUTATED:
        path = stage / relative
        source = (root / _origin(relative)).stat()
        transform(path, obstore=path.name == "_obstore.py")
        # keep the source's mtime: mutmut reuses mutants of files older than them
        os.utime(path, ns=(source.st_atime_ns, source.st_mtime_ns))
    if baseline:
        for relative in NEW_TESTS:
            (stage / relative).write_text('"""Emptied for the baseline run."""\n')
    if not obstore:
        for relative in OBSTORE_TESTS:
            (stage / relative).write_text('"""Run in the obstore stage (--obstore)."""\n')
    for relative in selection:
        test_file = stage / relative.split("::")[0]
        if not test_file.exists():
            raise SystemExit(f"missing test file in the selection: {relative}")

    pyproject = (root / "pyproject.toml").read_text()
    # pytest-markdown-docs would collect the README too; the selection names its tests.
    pyproject = pyproject.replace(" --markdown-docs", "")
    pyproject = pyproject.replace('testpaths = ["tests", "README.md"]', 'testpaths = ["tests"]')
    new = pyproject + settings.format(mutated=mutated, selection=selection)
    target = stage / "pyproject.toml"
    if not target.exists() or target.read_text() != new:
        target.write_text(new)


#: mutmut's exit codes (mutmut/stats.py), as this report names them.
_STATUS = {None: "not checked", 0: "survived", 1: "killed", 3: "killed", 33: "no tests"}
_STATUS.update({5: "no tests", 34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout"})
_STATUS.update({152: "timeout", 255: "timeout", 37: "type check", -11: "segfault", -9: "segfault"})


def report(stage: Path) -> None:
    """Per mutated file: mutants and their results, from mutmut's meta files (the main
    stage's ``_obstore.py`` mutants are left out: the obstore stage runs them)."""
    import json
    from collections import Counter

    columns = ["killed", "survived", "no tests", "timeout", "suspicious", "not checked"]
    total: Counter[str] = Counter()
    print(f"{'file':44} {'mutants':>7} " + " ".join(f"{c:>11}" for c in columns) + "   score")
    obstore_stage = stage.resolve().name.endswith("-obstore")
    for relative in MUTATED:
        meta = stage / "mutants" / f"{relative}.meta"
        if not meta.exists() or (relative in OBSTORE_MUTATED) != obstore_stage:
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        counts = Counter(_STATUS.get(code, "suspicious") for code in codes)
        total.update(counts)
        total["mutants"] += len(codes)
        print(_row(_origin(relative), len(codes), counts, columns))
    print(_row("all", total["mutants"], total, columns))


def _row(name: str, mutants: int, counts: dict[str, int], columns: list[str]) -> str:
    tested = counts["killed"] + counts["survived"] + counts["timeout"] + counts["suspicious"]
    score = f"{100 * (counts['killed'] + counts['timeout']) / tested:5.1f}%" if tested else "  -"
    cells = " ".join(f"{counts.get(c, 0):>11}" for c in columns)
    return f"{name:44} {mutants:>7} {cells}   {score}"


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(Path(sys.argv[2]))
        raise SystemExit(0)
    main(
        Path(sys.argv[1]).resolve(),
        Path(sys.argv[2]).resolve(),
        baseline="--baseline" in sys.argv[3:],
        model="--model" in sys.argv[3:],
        obstore="--obstore" in sys.argv[3:],
    )
