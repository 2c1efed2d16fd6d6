"""pytest plugin: the implementation under test, and outcomes a learner can read.

Every test is one of three kinds:

- an **implementation** test (no marker): it checks what the note requires of any
  implementation — names, signatures, shapes, dtypes, values, behaviour;
- a **fact** (``@pytest.mark.fact``): it checks PyTorch, torchvision or the note's own
  code, not the implementation; it passes whatever the implementation is, and does not
  count in a learner's progress;
- an **extra** (``@pytest.mark.extra``): one of the reference's own guarantees (its input
  checks and their wording, its safe checkpoints, helpers the note does not have). On the
  reference it is a test like any other; on another implementation it is not demanded:
  skipped with that reason, or with ``--extras`` run as an expected failure that may
  pass.

The project's tests of its own tools and data (``spec/meta/``, ``benchmarks/``) are
**tooling**: about the project, whatever implementation is under test.

A test that reaches code the implementation has not written — a ``NotImplementedError``
raised from the implementation's own files (a skeleton's body), or a module or name it
lacks (``implementation.Missing``) — is **to do**: its own outcome, one line naming what
to write, no traceback. It is not a failure.
"""

from __future__ import annotations

import functools
import linecache
from collections.abc import Iterator
from pathlib import Path

import pytest

from spec.helpers import environment, implementation

KIND_KEY = "spec_kind"
#: Where Hypothesis's pytest plugin keeps the examples it would write a patch for.
HYPOTHESIS_EXAMPLES = "_hypothesis_failing_examples"
KINDS = ("implementation", "fact", "extra", "tooling")
EXTRA_REASON = (
    "the reference's own guarantee, not demanded of {impl}: the note does not ask for it "
    "(--extras runs it anyway)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("implementation under test")
    group.addoption(
        "--impl",
        metavar="DIR-OR-MODULE",
        default=None,
        help="the implementation to run the spec against: a folder of modules named like "
        f"reference/'s, or an importable package (default: ${implementation.ENV}, else "
        "reference)",
    )
    group.addoption(
        "--extras",
        action="store_true",
        default=False,
        help="on an implementation other than the reference, run the reference's own "
        "guarantees too (as expected failures that may pass)",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        implementation.configure(config.getoption("--impl"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"implementation under test: {implementation.current().describe()}"]


def kind_of(item: pytest.Item) -> str:
    parts = item.path.parts
    if "benchmarks" in parts or ("spec" in parts and "meta" in parts):
        return "tooling"
    if item.get_closest_marker("fact"):
        return "fact"
    if item.get_closest_marker("extra"):
        return "extra"
    return "implementation"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    under_test = implementation.current()
    for item in items:
        _stop_hypothesis_at_a_todo(item)
        kind = kind_of(item)
        item.user_properties.append((KIND_KEY, kind))
        if kind != "extra" or under_test.is_reference:
            continue
        reason = EXTRA_REASON.format(impl=under_test.package)
        if config.getoption("--extras"):
            item.add_marker(pytest.mark.xfail(strict=False, reason=reason))
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


# ----------------------------------------------------------------------------- to do
def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and the errors it was raised from or while handling, once each."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [e.__cause__, e.__context__]


def _raised_there(filename: str, line: int) -> bool:
    """Did the implementation's own ``raise`` statement raise it? A NotImplementedError
    that torch raises inside a call the implementation makes (an operation a dtype
    lacks: ``bincount`` of floats) is a failure of that code, not unwritten code."""
    return linecache.getline(filename, line).lstrip().startswith("raise")


def todo_of(error: BaseException) -> tuple[str, str, int] | None:
    """(what to write, file, line) when ``error`` comes from unwritten code of the
    implementation under test; None for every other error (and always for the
    reference, which has nothing left to write)."""
    under_test = implementation.current()
    if under_test.is_reference:
        return None
    for e in _chain(error):
        if isinstance(e, implementation.Missing):
            return str(e), str(e.where / f"{e.module}.py"), 0
        if not isinstance(e, NotImplementedError) or e.__traceback__ is None:
            continue
        tb = e.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        filename = tb.tb_frame.f_code.co_filename
        if not under_test.owns(filename) or not _raised_there(filename, tb.tb_lineno):
            continue
        code = tb.tb_frame.f_code
        qualname = getattr(code, "co_qualname", code.co_name)
        module = Path(filename).resolve().relative_to(under_test.folder.resolve())
        module_name = ".".join(module.with_suffix("").parts)
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        what = message if message.startswith("write ") else f"write {module_name}.{qualname}"
        if message and not message.startswith("write "):
            what += f": {message}"
        return f"{what} ({module.as_posix()}:{tb.tb_lineno})", filename, tb.tb_lineno
    return None


class TodoInHypothesis(pytest.skip.Exception):
    """A to-do met by a Hypothesis test, raised on as a skip: Hypothesis stops a test at
    the first skip, where it would shrink a failure through dozens of examples (a second
    and more per test for code that is simply not written). Reported as to do."""


def _stop_hypothesis_at_a_todo(item: pytest.Item) -> None:
    """Wrap a Hypothesis test's ``inner_test`` (Hypothesis's documented hook for
    wrapping the test it runs) so that unwritten code raises ``TodoInHypothesis``."""
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    if inner is None or getattr(inner, "_spec_stops_at_todo", False):
        return

    @functools.wraps(inner)
    def stop_at_todo(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except NotImplementedError as error:
            if todo_of(error) is None:
                raise
            raise TodoInHypothesis(str(error)) from error

    stop_at_todo._spec_stops_at_todo = True
    handle.inner_test = stop_at_todo


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A to-do's report, made here, before pytest would format the failure's traceback
    (reading back the source of every frame: ~25 ms a test, a third of a blank
    skeleton's run) only for ``pytest_runtest_makereport_todo`` to replace it with one line.
    An xfail-marked test is left to pytest and ``pytest_runtest_makereport_todo``."""
    if call.excinfo is None or item.get_closest_marker("xfail") is not None:
        return None
    todo = todo_of(call.excinfo.value)
    if todo is None:
        return None
    try:  # a skip's report is made without reading any source
        raise pytest.skip.Exception("to do", _use_item_location=True)
    except pytest.skip.Exception as skip:
        excinfo = pytest.ExceptionInfo.from_exception(skip)
    skipped = pytest.CallInfo(None, excinfo, start=call.start, stop=call.stop,
                              duration=call.duration, when=call.when, _ispytest=True)  # fmt: skip
    report = pytest.TestReport.from_item_and_call(item, skipped)
    what, filename, line = todo
    report.longrepr = (filename, line, f"to do: {what}")
    report.spec_todo = what
    item.__dict__.pop(HYPOTHESIS_EXAMPLES, None)  # Hypothesis would offer it as a patch
    return report


# pytest registers a hook only under a name that starts with "pytest_": each wrapper
# below carries the hook's name as its prefix, and the hook's own as specname.
@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_todo(item: pytest.Item, call: pytest.CallInfo):
    """pytest_runtest_makereport's wrapper: a failure that is a to-do becomes one."""
    report = yield
    if call.excinfo is None or hasattr(report, "wasxfail"):
        return report
    if not report.failed and not isinstance(call.excinfo.value, TodoInHypothesis):
        return report
    todo = todo_of(call.excinfo.value)
    if todo is not None:
        what, filename, line = todo
        report.outcome = "skipped"
        report.longrepr = (filename, line, f"to do: {what}")
        report.spec_todo = what
        # Hypothesis would offer to add the "failing" example to the test as a patch
        item.__dict__.pop(HYPOTHESIS_EXAMPLES, None)
        report.__dict__.pop(HYPOTHESIS_EXAMPLES, None)
    return report


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_missing_library(item: pytest.Item, call: pytest.CallInfo):
    """A test that needs an optional library the release's companion set lacks (torch
    1.13.1 has no torchvision for Python 3.11) is skipped saying so, as its chapter is
    when it imports the library at its top: code that imports it in the test's course
    (``reference.cifar10``) raises the same ModuleNotFoundError later. A library that is
    installed and still fails to import is a failure, as it is."""
    report = yield
    library = environment.missing_optional_library(call.excinfo.value if call.excinfo else None)
    if library is not None and report.failed:
        import torch

        report.outcome = "skipped"
        report.longrepr = (
            str(item.path), (item.location[1] or 0) + 1,
            f"Skipped: needs {library}: not installed beside torch {torch.__version__}",
        )  # fmt: skip
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per thing to write, in the order the tests met them, with how many tests
    wait for it: what a learner does next."""
    todo: dict[str, list[str]] = {}
    for report in terminalreporter.stats.get("todo", []):
        todo.setdefault(report.spec_todo, []).append(report.nodeid)
    if not todo:
        return
    terminalreporter.section(f"to do: {len(todo)} things to write")
    for what, nodeids in todo.items():
        tests = "1 test" if len(nodeids) == 1 else f"{len(nodeids)} tests"
        terminalreporter.write_line(f"to do: {what} ({tests}, first {nodeids[0]})")


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report, config):
    if getattr(report, "spec_todo", None):
        return "todo", "T", ("TODO", {"yellow": True})
    return None
