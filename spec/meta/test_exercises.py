"""Exercises — the seam, the contract, the skeleton and the outcomes a learner reads.

The chapters read the implementation under test through ``impl`` only; what they
require of it (the contract) is read from them; the skeleton has every name of the
contract with the reference's signature and none of its code; a blank skeleton's run is
all "to do" and the note's own code passes the chapters it belongs to.
"""

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spec.exercises import blank, contract, note_code, skeleton
from spec.exercises.nested import run_spec
from spec.helpers import implementation, note
from spec.helpers.checked_code import implementation_names

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "spec" / "note").glob("[0-9][0-9]_*.py")) + sorted(
    (ROOT / "spec" / "guarantees").glob("[0-9][0-9]_*.py")
)


def chapter_tests():
    for path in CHAPTERS:
        for test in contract.tests_of(path):
            yield pytest.param(test, id=f"{path.parent.name}/{path.stem}::{test.name}")


# ----------------------------------------------------------------------------- the seam
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_chapter_imports_the_reference_by_name(path):
    """No chapter, guarantee or golden imports ``reference``: it comes through ``impl``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not any(n == "reference" or n.startswith("reference.") for n in names), (
            f"{path.name}:{node.lineno} imports {names}"
        )


@pytest.mark.parametrize("test", list(chapter_tests()))
def test_each_test_is_of_the_kind_its_code_shows(test):
    """A fact reaches nothing of the implementation; an implementation test reaches some of it."""
    reached = implementation_names(test.path, test.name)
    if test.kind == "fact":
        assert not reached, (
            f"{test.id} is marked fact but uses the implementation: {sorted(reached)}"
        )
    elif test.kind == "implementation":
        assert reached, (
            f"{test.id} uses nothing of the implementation: mark it `fact` (it checks PyTorch "
            "or the note itself) or make it call the implementation"
        )


RAISES_CATCHING_TODO = {"RuntimeError", "Exception", "BaseException", "NotImplementedError"}


NOTE_CHAPTERS = [p for p in CHAPTERS if p.parent.name == "note"]


@pytest.mark.parametrize("path", NOTE_CHAPTERS, ids=lambda p: p.stem)
def test_no_note_chapter_grades_an_implementation_with_a_bare_assert(path):
    """Every ``assert`` that can fail an implementation says why: the test functions of
    kind "implementation" and the chapter's helpers and fixtures. A bare one would show
    the learner pytest's introspection, not what the note expects and what the code did.
    (Facts and the reference's extras do not grade a learner's code.)"""
    kinds = {t.name: t.kind for t in contract.tests_of(path)}
    bare = []

    def visit(node, grading):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                kind = kinds.get(child.name, "implementation")
                visit(child, grading and kind == "implementation")
            elif isinstance(child, ast.Assert) and child.msg is None and grading:
                bare.append(f"{path.name}:{child.lineno}: {ast.unparse(child)[:80]}")
            else:
                visit(child, grading)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    assert not bare, "asserts without a message:\n" + "\n".join(bare)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_pytest_raises_can_swallow_a_to_do(path):
    """A ``pytest.raises`` whose type would catch NotImplementedError names the message it expects.

    Unwritten code raises NotImplementedError, a RuntimeError: without ``match=`` such
    a check would pass on a skeleton.
    """
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.raises"):
            continue
        types = (
            {n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)}
            if node.args
            else set()
        )
        if types & RAISES_CATCHING_TODO:
            assert any(k.arg == "match" for k in node.keywords), f"{path.name}:{node.lineno}"


def test_an_implementation_is_found_by_folder_or_module_name(tmp_path):
    """``--impl`` takes a folder (with or without __init__.py) or an importable module name."""
    assert implementation.resolve("reference").is_reference
    assert implementation.resolve(str(ROOT / "reference")).is_reference
    folder = tmp_path / "my_code"
    folder.mkdir()
    (folder / "tensors.py").write_text("def from_data():\n    return 'mine'\n")
    mine = implementation.resolve(str(folder))
    assert not mine.is_reference
    assert mine.package == "my_code"
    assert mine.module("tensors").from_data() == "mine"
    with pytest.raises(implementation.Missing, match=r"write tensors\.random_matrix"):
        mine.get("tensors", "random_matrix")
    with pytest.raises(implementation.Missing, match="write the module cifar10"):
        mine.module("cifar10")
    with pytest.raises(ValueError, match="no such folder"):
        implementation.resolve(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="no module of that name"):
        implementation.resolve("no_such_package_anywhere")


def test_collecting_a_chapter_imports_none_of_the_implementation(tmp_path):
    """pytest reads ``_fixture_function_marker`` and the like off every object of a test
    module while it collects it; ``impl.lightning_mnist`` answers those without importing
    the implementation's module (which would import Lightning, or fail on a learner's
    unfinished file, before any test runs)."""
    folder = tmp_path / "collected_only"
    shutil.copytree(ROOT / "spec" / "exercises" / "tutorial_style", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    loaded = []

    class Loaded:
        def pytest_collection_finish(self, session):
            loaded.extend(sorted(m for m in sys.modules if m.startswith("collected_only.")))

    cwd = Path.cwd()
    with implementation.restored():
        try:
            os.chdir(ROOT)
            pytest.main(["spec/guarantees/03_bad_input.py", "--collect-only", "-q",
                         "-p", "no:cacheprovider", "--impl", str(folder)],
                        plugins=[Loaded()])  # fmt: skip
        finally:
            os.chdir(cwd)
    assert loaded == [], loaded


@pytest.mark.parametrize("with_init", [False, True], ids=["folder", "package"])
def test_the_implementation_is_imported_from_its_source_never_a_stale_cache(
    tmp_path, monkeypatch, with_init
):
    """A learner's module saved twice within one second, to the same size, runs as saved.

    The project's runs write bytecode; Python trusts a cached file while the source's size
    and modification time (whole seconds) match it, so a standard import would run the
    first version here."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    folder = tmp_path / f"stale_probe_{with_init}"
    folder.mkdir()
    if with_init:
        (folder / "__init__.py").write_text("SAVED = 1\n")
    source = folder / "tensors.py"
    source.write_text("ANSWER = 1\n")
    mine = implementation.resolve(str(folder))
    assert mine.module("tensors").ANSWER == 1

    seconds = source.stat().st_mtime
    source.write_text("ANSWER = 2\n")  # same size, same modification time
    os.utime(source, (seconds, seconds))
    for name in [n for n in sys.modules if n.split(".")[0] == mine.package]:
        del sys.modules[name]
    assert mine.module("tensors").ANSWER == 2, "the module came from a stale bytecode cache"
    assert not (folder / "__pycache__").exists(), "bytecode was written for the learner's code"
    for name in [n for n in sys.modules if n.split(".")[0] == mine.package]:
        del sys.modules[name]


# ----------------------------------------------------------------------------- the contract
def test_the_contract_covers_every_chapter_of_the_note_with_code():
    """Every chapter from 01 to 16 asks for names of its own module (chapter 17 runs the note)."""
    wanted = contract.contract()
    for chapter, module in implementation.CHAPTER_MODULES.items():
        assert wanted.get(module), f"chapter {chapter}: no test asks for anything of {module}"
        assert "*" not in wanted[module], f"{module} is used whole: name what the test needs"


def contract_items():
    for module, names in contract.contract().items():
        for name in names:
            yield pytest.param(module, name, id=f"{module}.{name}")


@pytest.mark.parametrize(("module", "name"), list(contract_items()))
def test_every_name_of_the_contract_says_what_the_note_asks(module, name):
    """Each name the chapters ask for is documented: a true quote of the note, or why not."""
    tree = ast.parse((implementation.REFERENCE / f"{module}.py").read_text(encoding="utf-8"))
    node = note.top_level(tree, name)
    if isinstance(node, ast.Assign):  # a value: its #: comment quotes the note
        lines = (implementation.REFERENCE / f"{module}.py").read_text().splitlines()
        comment = skeleton._doc_comments(lines, node)
        assert comment, f"{module}.{name} has no #: comment above it"
        return
    doc = ast.get_docstring(node) or ""
    assert doc, f"{module}.{name} has no docstring"
    if note.beyond_the_note(doc):
        return
    quotes = note.quotes_in(doc)
    assert quotes, f'{module}.{name}: neither a `Note: "..."` quote nor "Beyond the note:"'
    assert note.is_in_note(quotes[0]), f"{module}.{name} quotes what the note does not say"


# ----------------------------------------------------------------------------- the skeleton
@pytest.fixture(scope="module")
def blank_skeleton(tmp_path_factory):
    folder = tmp_path_factory.mktemp("skeleton") / "learner"
    skeleton.write(folder)
    return implementation.resolve(str(folder))


def same_signature(a, b) -> bool:
    """Parameter names, kinds, and which have defaults (a skeleton's default may be a ToDo,
    which cannot be compared)."""

    def shape(f):
        return [
            (p.name, p.kind, p.default is p.empty) for p in inspect.signature(f).parameters.values()
        ]

    return shape(a) == shape(b)


@pytest.mark.parametrize(("module", "name"), list(contract_items()))
def test_the_skeleton_has_each_name_with_the_reference_signature_and_no_code(
    blank_skeleton, module, name
):
    """Each contract name is in the skeleton with the reference's signature, and only raises."""
    reference = getattr(implementation.resolve("reference").module(module), name)
    learner = blank_skeleton.get(module, name)
    if inspect.isfunction(reference):
        assert same_signature(learner, reference)
        with pytest.raises(NotImplementedError, match=rf"write {module}\.{name}"):
            learner(*[None] * len(inspect.signature(learner).parameters))
    elif inspect.isclass(reference):
        for method, ref_method in vars(reference).items():
            if not inspect.isfunction(ref_method) or (
                method.startswith("_") and method != "__init__"
            ):
                continue
            if (ref_method.__doc__ or "").startswith(note.BEYOND):
                assert method not in vars(learner), f"{name}.{method} is the reference's extra"
                continue
            assert same_signature(getattr(learner, method), ref_method), f"{name}.{method}"
    else:  # a value the note defines: a ToDo that raises when used
        with pytest.raises(NotImplementedError, match=rf"write {module}\.{name}"):
            learner()
    text = (blank_skeleton.folder / f"{module}.py").read_text(encoding="utf-8")
    assert skeleton.REFERENCE_ONLY not in text


def test_every_name_a_skeleton_signature_mentions_is_defined_in_it(blank_skeleton):
    """A type a signature names (``-> MemoryReport``) is defined or imported in the module:
    a record the contract demands back is in the skeleton, its fields documented."""
    import builtins

    undefined = []
    for path in sorted(blank_skeleton.folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                defined.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                defined |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                annotations = [a.annotation for a in node.args.args if a.annotation]
                for annotation in [*annotations, node.returns]:
                    for name in ast.walk(annotation) if annotation else ():
                        if isinstance(name, ast.Name) and name.id not in defined:
                            undefined.append(f"{path.name}: {node.name} names {name.id}")
    assert not undefined, undefined
    text = (blank_skeleton.folder / "gpu_memory.py").read_text(encoding="utf-8")
    assert "- ``allocated`` (int): bytes in live tensors" in text


def test_the_skeleton_holds_none_of_the_reference_s_code(blank_skeleton):
    """Every function and method of the skeleton is a docstring and a raise, nothing else."""
    for path in blank_skeleton.folder.glob("*.py"):
        if path.name.startswith("_"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                body = [
                    n
                    for n in node.body
                    if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
                ]
                assert len(body) == 1, f"{path.name}:{node.lineno} {node.name}"
                assert isinstance(body[0], ast.Raise), f"{path.name}:{node.lineno} {node.name}"


def test_from_fills_the_chapters_before_it_with_the_reference(tmp_path):
    """``--from 07``: chapter 06's module is the reference's code, chapter 07's a skeleton."""
    folder = tmp_path / "from07"
    assert skeleton.main([str(folder), "--from", "7"]) == 0
    assert "self.conv1 = nn.Conv2d(1, 6, 3)" in (folder / "neural_networks.py").read_text()
    assert "raise NotImplementedError" in (folder / "loss_function.py").read_text()
    under = implementation.resolve(str(folder))
    assert under.get("neural_networks", "Net")()(__import__("torch").randn(1, 1, 32, 32)).shape == (
        1,
        10,
    )
    with pytest.raises(SystemExit):  # the folder is no longer empty
        skeleton.main([str(folder)])


# ----------------------------------------------------------------------------- to do
TINY_CHAPTER = """
import pytest
from hypothesis import given, strategies as st
from spec.helpers.implementation import impl

def test_written():
    assert impl.tensors.from_data() == 1

def test_not_written():
    impl.tensors.random_matrix()

def test_missing_module():
    impl.cifar10.train()

@pytest.fixture
def net():
    return impl.tensors.random_matrix()

def test_through_a_fixture(net):
    pass

def test_a_real_failure():
    assert impl.tensors.from_data() == 2

def test_torch_refusing_an_operation_is_a_failure():
    impl.tensors.counts()

EXAMPLES = []

@given(st.integers())
def test_hypothesis_meets_unwritten_code(n):
    EXAMPLES.append(n)
    impl.tensors.random_matrix()

@given(st.integers())
def test_hypothesis_meets_a_failure(n):
    assert impl.tensors.from_data() == 2

def test_hypothesis_stopped_at_the_first_example():
    assert len(EXAMPLES) == 1, EXAMPLES
"""


def test_unwritten_code_is_to_do_in_its_own_outcome(pytester):
    """Unwritten code or a missing name is "to do": its own outcome, one line, no traceback.

    A pytest session of its own (pytester), in this process: the libraries are imported
    already; the implementation under test is this run's again afterwards."""
    tmp_path = pytester.path
    package = tmp_path / "mine"
    package.mkdir()
    (package / "tensors.py").write_text(
        "def from_data():\n    return 1\n\n"
        "def random_matrix():\n    raise NotImplementedError('write tensors.random_matrix')\n\n"
        "def counts():\n    import torch\n    return torch.bincount(torch.ones(2))\n"
    )
    (tmp_path / "test_tiny.py").write_text(TINY_CHAPTER)
    with implementation.restored():
        result = pytester.runpytest_inprocess(
            "-p", "spec.plugin.outcomes", "-p", "no:cacheprovider", "-q", "--impl", str(package),
            "-rA", str(tmp_path / "test_tiny.py"), "-o", "addopts=",
        )  # fmt: skip
    out = result.stdout.str() + result.stderr.str()

    # torch's own NotImplementedError (no bincount of floats) is the code's failure; a
    # Hypothesis test that meets unwritten code is to do after one example, not shrunk
    assert "3 failed, 2 passed, 4 todo" in out, out
    assert (
        "to do: write tensors.random_matrix (tensors.py:5) (3 tests, first "
        "test_tiny.py::test_not_written)" in out
    )
    # a real failure is still Hypothesis's to report and shrink (the wording by release)
    assert re.search(r"(Falsifying example|Failing test case): test_hypothesis_meets_a_f", out)
    assert "to do: write the module cifar10" in out
    assert "raise NotImplementedError('write" not in out  # no traceback for a to-do
    assert "assert 1 == 2" in out  # a real failure keeps its own


MISSING_LIBRARY_TESTS = """
def test_needs_it():
    import nosuchlib_spec.sub

def test_an_installed_optional_library_that_fails():
    raise ModuleNotFoundError("No module named '{installed}.nope'", name="{installed}.nope")

def test_a_library_that_is_not_optional():
    raise ModuleNotFoundError("No module named 'nosuchlib_other'", name="nosuchlib_other")
"""


def test_a_test_that_meets_a_missing_optional_library_is_skipped_naming_it(pytester, monkeypatch):
    """On a release whose companion set lacks an optional library (torch 1.13.1: no
    torchvision), a test whose code imports it is skipped with the library named, as a
    chapter that imports it at its top is; an installed one that fails, or a library
    that is not optional, is still a failure."""
    from spec.helpers import environment

    optional = environment.OPTIONAL_LIBRARIES | {"nosuchlib_spec"}
    monkeypatch.setattr(environment, "OPTIONAL_LIBRARIES", optional)
    import importlib.util

    installed = next(lib for lib in sorted(optional) if importlib.util.find_spec(lib))
    pytester.makepyfile(test_libraries=MISSING_LIBRARY_TESTS.format(installed=installed))
    with implementation.restored():
        result = pytester.runpytest_inprocess(
            "-p", "spec.plugin.outcomes", "-p", "no:cacheprovider", "-q", "-rfs", "-o", "addopts=",
        )  # fmt: skip
    out = result.stdout.str()
    assert "2 failed, 1 skipped" in out, out
    assert re.search(r"SKIPPED \[1\] test_libraries.py:\d+: needs nosuchlib_spec: not installed "
                     r"beside torch \d", out), out  # fmt: skip
    assert "FAILED test_libraries.py::test_an_installed_optional_library_that_fails" in out
    assert "FAILED test_libraries.py::test_a_library_that_is_not_optional" in out


# ----------------------------------------------------------------------------- the proofs
def test_the_blank_judge_names_each_test_that_does_not_prove_what_it_should():
    """The blank-skeleton judge refuses passes, failures and facts that did not pass."""
    report = {
        "implementation": {"is_reference": False},
        "tests": {
            "a": {"kind": "implementation", "outcome": "todo"},
            "b": {"kind": "implementation", "outcome": "passed"},
            "c": {"kind": "fact", "outcome": "todo", "reason": ""},
            "d": {"kind": "implementation", "outcome": "failed", "reason": "boom"},
            "e": {"kind": "extra", "outcome": "skipped"},
            "f": {"kind": "implementation", "outcome": "skipped", "reason": "needs CUDA: ..."},
        },
    }
    problems = blank.judge(report)
    assert [p.split(":")[0] for p in problems] == ["b", "c", "d"]
    assert blank.judge({**report, "tests": {"a": report["tests"]["a"]}}) == []


@pytest.mark.slow
def test_a_blank_skeleton_is_all_to_do(blank_skeleton, tmp_path, record_property):
    """The spec on a blank skeleton: 0 failed, 0 errors, every implementation test to do.

    Run on the note's chapters and the goldens. The reference's extras are not demanded
    of a skeleton (skipped); the facts are left out: they reach nothing of the
    implementation (test_each_test_is_of_the_kind_its_code_shows), so they pass on a
    skeleton as they pass in the reference's run (``make spec IMPL=...`` runs them too).
    """
    if not implementation.current().is_reference:
        pytest.skip("a proof of the spec itself: it runs in the reference's run")
    report = run_spec(
        blank_skeleton.folder, ["spec/note", "spec/guarantees/06_goldens.py"],
        tmp_path / "blank.json",
        "-m", "not fact",
    )  # fmt: skip
    record_property("blank skeleton", blank.summary(report))
    assert blank.judge(report) == []


@pytest.mark.slow
def test_the_notes_own_code_passes_the_tests_that_reach_it(tmp_path, record_property):
    """The note's own definitions, pasted into the implementation, pass every test that uses them.

    Its two Nets, criterion, TwoLayerNet, the two transforms and LitMNIST, read from the
    note (with the declared drift fixes of spec.exercises.note_code): what the chapters
    demand is what the note's code does, not the reference's extras. The tests are the
    contract's for those names — chapter 09's training step on the note's LeNet and
    criterion included; a test that reaches none of them runs the reference's code,
    which the reference's own run grades.
    """
    if not implementation.current().is_reference:
        pytest.skip("a proof of the spec itself: it runs in the reference's run")
    folder = tmp_path / "the_note"
    note_code.write(folder)
    graded = contract.contract()
    tests = sorted({t for p in note_code.PASTED for t in graded[p.module][p.name]})
    report = run_spec(folder, tests, tmp_path / "note.json", "-m", "not fact")
    outcomes = {}
    for test in report["tests"].values():
        outcomes[test["outcome"]] = outcomes.get(test["outcome"], 0) + 1
    record_property("the note's code", ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())))
    bad = {
        k: t["reason"]
        for k, t in report["tests"].items()
        if t["outcome"] in ("failed", "error", "todo")
    }
    assert not bad, textwrap.indent(json.dumps(bad, indent=1), "  ")
    assert outcomes.get("passed", 0) > 60


# ----------------------------------------------------------------------------- the warm loop
def _fill(folder: Path, module: str, name: str, body: str) -> None:
    """Replace the unwritten body of ``name`` in the skeleton's ``module`` with ``body``."""
    path = folder / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    start = source.index(f"def {name}(")
    todo = source.index("raise NotImplementedError", start)
    end = source.index("\n", todo)
    path.write_text(source[:todo] + body + source[end:], encoding="utf-8")


def _what_a_reader_sees(report_file: Path) -> dict:
    """Each test's outcome, the spec's row (its message, hints, warnings) and pytest's
    text of each phase (the traceback, the crash line), durations left out."""
    data = json.loads(report_file.read_text(encoding="utf-8"))
    seen = {}
    for test in data["tests"]:
        row = {k: v for k, v in test["metadata"]["spec"].items() if k != "duration_s"}
        phases = {
            phase: {k: v for k, v in test[phase].items() if k != "duration"}
            for phase in ("setup", "call", "teardown")
            if phase in test
        }
        seen[test["nodeid"]] = (test["outcome"], row, phases)
    return seen


@pytest.mark.slow
def test_a_warm_check_reads_exactly_as_a_cold_one(tmp_path):
    """``make watch`` answers from a fork of a warm process; what it reports — outcomes, to
    dos, failure messages and tracebacks — is what a cold ``make next`` reports.

    Chapters 01 and 02 on a skeleton with one function right, one wrong and the rest
    unwritten, run by a fresh interpreter and by a fork of a process that collected
    the chapters first (as ``watch`` does)."""
    from spec.exercises import loop, warm
    from spec.helpers import processes

    folder = tmp_path / "learner"
    skeleton.write(folder)
    _fill(folder, "tensors", "random_matrix", "return torch.rand(5, 3)")
    _fill(folder, "tensors", "zeros_long", "return torch.zeros(5, 3)")  # float, not long
    chapters = ["01", "02"]
    env = {**os.environ, implementation.ENV: str(folder)}

    cold_report = tmp_path / "cold.json"
    cold_args = loop.chapter_args(folder, chapters, cold_report)
    subprocess.run([sys.executable, "-m", "pytest", *cold_args], cwd=ROOT, env=env,
                   capture_output=True, check=False, timeout=300)  # fmt: skip

    warm_report = tmp_path / "warm.json"
    # watch collects every chapter first; the first two are collected the same way
    everything = loop.chapter_args(folder, chapters, tmp_path / "x")
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from spec.exercises import loop, warm
        collected, printed = warm.preload({everything!r})
        assert collected == 0, printed
        assert not warm.imported_from(Path({str(folder)!r}))
        args = loop.chapter_args(Path({str(folder)!r}), {chapters!r}, Path({str(warm_report)!r}))
        warm.run_forked(args, env={{{implementation.ENV!r}: {str(folder)!r}}})
        """
    )
    processes.forked_output(code)

    cold, warm_seen = _what_a_reader_sees(cold_report), _what_a_reader_sees(warm_report)
    outcomes = {t[0] for t in cold.values()}
    assert {"passed", "failed"} <= outcomes, outcomes  # a failure, passes and to dos compared
    assert any(row["outcome"] == "todo" for _, row, _ in cold.values())
    assert list(warm_seen) == list(cold), "the warm run ran other tests, or in another order"
    failed = [phases["call"] for outcome, _, phases in cold.values() if outcome == "failed"]
    assert all(call.get("longrepr") for call in failed), "no traceback to compare"
    differ = [n for n in cold if cold[n] != warm_seen[n]]
    assert not differ, f"{differ[0]}:\n cold: {cold[differ[0]]}\n warm: {warm_seen[differ[0]]}"
    assert warm.imported_from(folder) == [], "the test process imported the learner's code"


def test_the_watcher_sees_a_save_a_new_file_and_a_deletion_once_each(tmp_path):
    from spec.exercises import warm

    (tmp_path / "tensors.py").write_text("A = 1\n")
    watcher = warm.Watcher(tmp_path)
    assert not watcher.changed()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "tensors.cpython-311.pyc").write_bytes(b"cache")
    assert not watcher.changed(), "a cache file is not a save"
    seconds = (tmp_path / "tensors.py").stat().st_mtime
    (tmp_path / "tensors.py").write_text("A = 2\n")  # same size
    os.utime(tmp_path / "tensors.py", (seconds + 1, seconds + 1))
    assert watcher.changed()
    assert not watcher.changed(), "one save is one change"
    assert watcher.last_saved() == pytest.approx(seconds + 1)
    (tmp_path / "operations.py").write_text("")
    assert watcher.changed()
    (tmp_path / "operations.py").unlink()
    assert watcher.changed()
    assert not watcher.restart_needed()


def test_the_warm_collection_drops_the_run_s_report_and_implementation():
    from spec.exercises import warm

    args = ["a.py", "--impl", "mine", "--run-report=r.json", "-q", "--run-report", "x", "-p", "y"]
    assert warm.strip_option(args, "--impl", "--run-report") == ["a.py", "-q", "-p", "y"]


# ----------------------------------------------------------------------------- next
@pytest.fixture
def recording_loop(tmp_path, monkeypatch):
    """``loop`` with its reports in ``tmp_path`` and its chapter runs recorded, not run:
    a chapter passes when it is in ``passes``."""
    from spec.exercises import loop

    monkeypatch.setattr(loop, "REPORTS", tmp_path / "reports")
    (tmp_path / "reports").mkdir()
    runs: list[list[str]] = []
    passes: set[str] = set()

    def run_chapters(folder, numbers):
        runs.append(list(numbers))
        return {n: "passing" if n in passes else "unfinished" for n in numbers}

    monkeypatch.setattr(loop, "run_chapters", run_chapters)
    return loop, runs, passes


def _package(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _save(file: Path, text: str = "# saved\n") -> None:
    with file.open("a", encoding="utf-8") as out:
        out.write(text)


def test_next_checks_again_only_the_chapters_that_can_see_a_saved_file(tmp_path, recording_loop):
    """A save in the chapter being written reruns that chapter alone; a save in an earlier
    chapter's module reruns from there; a module imported by an earlier chapter's module
    counts as that chapter's; ``__init__.py`` or an unknown record reruns from 01."""
    loop, runs, passes = recording_loop
    mine = _package(tmp_path / "mine", {
        "__init__.py": "", "tensors.py": "", "operations.py": "from . import helpers\n",
        "helpers.py": "", "numpy_bridge.py": "", "cuda_tensors.py": "",
        "neural_networks.py": "", "cifar10.py": "from mine.neural_networks import Net\n",
    })  # fmt: skip
    passes.update({"01", "02", "03"})
    assert loop.run_next(mine, "mine") == 1
    assert runs == [["01"], ["02"], ["03"], ["04"]]  # on to the next while each passes

    def after_saving(name: str) -> list[str]:
        runs.clear()
        _save(mine / name)
        loop.run_next(mine, "mine")
        return runs[0]

    assert after_saving("cuda_tensors.py") == ["04"]
    assert after_saving("neural_networks.py") == ["04"]  # chapter 06's: 04 cannot see it
    assert after_saving("numpy_bridge.py") == ["03", "04"]
    assert after_saving("helpers.py") == ["02", "03", "04"]  # operations.py imports it
    assert after_saving("__init__.py") == ["01", "02", "03", "04"]
    runs.clear()
    loop.run_next(mine, "mine")
    assert runs == [["04"]], "nothing saved: only the unfinished chapter"

    passes.update({"04", "05", "06", "07", "08", "09"})
    runs.clear()
    loop.run_next(mine, "mine")
    assert runs[-1] == ["10"]
    assert after_saving("neural_networks.py") == ["06", "07", "08", "09", "10"]
    (mine / "helpers.py").unlink()  # a deleted file is a change too
    runs.clear()
    loop.run_next(mine, "mine")
    assert runs[0][0] == "02"

    record = loop.progress_path(mine)
    record.write_text(json.dumps({"stamp": 0, "passing": ["01", "02"]}))  # an older loop's
    runs.clear()
    loop.run_next(mine, "mine")
    assert runs[0][:3] == ["01", "02", "03"]


def test_imports_of_a_module_name_the_package_s_own_modules(tmp_path):
    from spec.exercises import loop

    file = tmp_path / "m.py"
    file.write_text(
        "import os\nimport torch.nn as nn\nfrom . import tensors, operations\n"
        "from .cifar10 import train\nfrom mine import examples\nimport mine.transforms\n"
        "from mine.autograd import f\nfrom other import backprop\n"
        "def late():\n    from . import gpu_memory\n"
    )
    assert loop.imports_of(file, "mine") == {
        "tensors", "operations", "cifar10", "examples", "transforms", "autograd", "gpu_memory"
    }  # fmt: skip
    file.write_text("def broken(:\n")
    assert loop.imports_of(file, "mine") == set()


def test_watch_checks_at_once_then_after_each_save_and_restarts_when_the_spec_changes(
    tmp_path, recording_loop, monkeypatch, capsys
):
    """The warm loop's own logic, its checks recorded (``next`` is what they run): one at
    start, one per save; the warm process stops if it imported the learner's code, and
    restarts itself when the spec or the installed packages change."""
    import threading

    from spec.exercises import warm

    loop, _, _ = recording_loop
    mine = _package(tmp_path / "mine", {"tensors.py": "", "operations.py": ""})
    monkeypatch.setattr(warm, "preload", lambda args: (0, ""))
    checks: list[float] = []
    monkeypatch.setattr(loop, "run_next", lambda folder: checks.append(time.time()))

    def save_after_the_first_check():
        while not checks:
            time.sleep(0.01)
        _save(mine / "operations.py")

    saver = threading.Thread(target=save_after_the_first_check)
    saver.start()
    assert loop.run_watch(mine, rounds=2) == 0
    saver.join()
    assert len(checks) == 2
    out = capsys.readouterr().out
    assert "libraries and chapters imported" in out
    assert re.search(r"watch: answered [0-9.]+ s after your last save", out), out

    monkeypatch.setattr(warm, "imported_from", lambda folder: ["mine.tensors"])
    assert loop.run_watch(mine, rounds=1) == 2
    assert "the warm process imported your code (mine.tensors)" in capsys.readouterr().out
    monkeypatch.setattr(warm, "imported_from", lambda folder: [])

    class Restarted(Exception):
        pass

    def restart():
        raise Restarted

    monkeypatch.setattr(warm.Watcher, "restart_needed", lambda self: True)
    monkeypatch.setattr(warm, "restart", restart)
    with pytest.raises(Restarted):
        loop.run_watch(mine)
    assert "the spec or the installed packages changed: restarting" in capsys.readouterr().out


def test_a_spec_file_or_an_installed_package_changing_asks_the_warm_process_to_restart(
    tmp_path, monkeypatch
):
    from spec.exercises import warm

    spec_file = tmp_path / "spec" / "note.py"
    spec_file.parent.mkdir()
    spec_file.write_text("")
    monkeypatch.setattr(warm, "ROOT", tmp_path)
    stamps = [(1, 2, 3)]
    monkeypatch.setattr(warm, "packages_stamp", lambda: stamps[-1])
    watcher = warm.Watcher(tmp_path / "spec")
    assert not watcher.restart_needed()
    stamps.append((1, 2, 4))  # a package installed
    assert watcher.restart_needed()
    stamps.pop()
    assert not watcher.restart_needed()
    _save(spec_file)
    assert watcher.restart_needed()


# ----------------------------------------------------------------------------- the hints
BLITZ_5X5_LENET = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The LeNet of the 60-minute blitz's later versions: 5x5 kernels."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
'''


def test_the_blitz_s_5x5_lenet_is_told_apart_from_the_note_s_and_named(tmp_path):
    """Chapter 06 on the LeNet later versions of the official blitz build (5x5 kernels):
    the shape tests fail, each saying it is the tutorial's other LeNet; the hint never
    fires on the reference's Net or on the note's own."""
    from spec.helpers import teach

    folder = tmp_path / "blitz_lenet"
    folder.mkdir()
    (folder / "neural_networks.py").write_text(BLITZ_5X5_LENET)
    report = run_spec(folder, ["spec/note/06_neural_networks.py"], tmp_path / "r.json",
                      "-m", "not fact")  # fmt: skip
    rows = {k.split("::")[1]: t for k, t in report["tests"].items()}
    for name in ("test_print_net_shows_the_notes_output_exactly",
                 "test_params_0_is_conv1_weight_of_size_6_1_3_3_not_6",
                 "test_every_parameter_shape_follows_from_the_layer_definitions",
                 "test_sizes_30_to_33_also_reduce_to_6x6[30]"):  # fmt: skip
        assert rows[name]["outcome"] == "failed", (name, rows[name])
        assert "did you write the official tutorial's other LeNet?" in rows[name]["message"]
    assert rows["test_sizes_30_to_33_also_reduce_to_6x6[32]"]["outcome"] == "passed"

    from reference import neural_networks

    prelude = "import torch.nn as nn\nimport torch.nn.functional as F\n"
    the_notes = note.note_object(95, "Net", prelude)()  # the note's own LeNet, line 95
    for net in (neural_networks.Net(), the_notes):
        assert teach.did_you_write_the_other_lenet(net) is None
