"""The learner's loop: ``make next``, ``make hint``, ``make watch`` (after rustlings).

- ``next``: runs the note's chapters against your code, from the first one not known to
  pass, in one pytest process, and stops after the first chapter that is not finished
  (a to-do, a failure); it shows that chapter's checklist and what to write. A chapter is
  known to pass when the last ``next`` saw it pass and no file it can see changed since:
  a chapter sees its own module, those of the chapters before it and what they import
  (``first_affected``); a chapter that can see a change is checked again.
- ``hint``: the first to-do of the last run: its test's claim and the note's lines it
  checks, and the docstring of the name to write (the contract, never the reference's
  code).
- ``watch``: reruns ``next`` every time a file of your package is saved; when a chapter
  passes, the same run goes on to the next one. One warm process keeps torch, torchvision
  and pytest's plugins imported and runs each check in a fresh fork of itself
  (``spec.exercises.warm``): a save is answered in about a second.

Each chapter run is a pytest session in a child forked from this process (a child
interpreter where there is no fork): the learner's modules are imported there, fresh.

``python -m spec.exercises.loop {next,hint,watch} --impl DIR``. Also a pytest plugin
(``-p spec.exercises.loop --first-unfinished``): the stop after the first unfinished
chapter.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import inspect
import json
import sys
import time
from pathlib import Path

import pytest

from spec.exercises import warm
from spec.helpers.implementation import CHAPTER_MODULES, ENV, REFERENCE, resolve
from spec.helpers.run_report import load_run_report

ROOT = Path(__file__).resolve().parents[2]
NOTE = ROOT / "spec" / "note"
REPORTS = ROOT / "reports"
#: Plugins a chapter run does without: the loop answers faster (torch's import is most of
#: the few seconds a chapter takes).
QUIET = ("no:cacheprovider", "no:xdist", "no:html", "no:benchmark")


# ----------------------------------------------------------------------------- the plugin
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--first-unfinished",
        action="store_true",
        default=False,
        help="stop after the first chapter with a test to do, failed or in error",
    )


_unfinished: set[str] = set()


def pytest_configure(config) -> None:
    _unfinished.clear()  # a session forked from a process that ran one before starts clean


def _chapter(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_runtest_logreport(report) -> None:
    kind = dict(report.user_properties).get("spec_kind", "implementation")
    if kind != "fact" and (report.failed or getattr(report, "spec_todo", None)):
        _unfinished.add(_chapter(report.nodeid))


def pytest_terminal_summary(terminalreporter, config) -> None:
    """A line per chapter that passes; the whole checklist of the one that does not."""
    if not config.getoption("--first-unfinished"):
        return
    from spec.plugin.report import entry_line, progress

    recorder = config.pluginmanager.get_plugin("spec-report-recorder")
    terminalreporter.section("your code, chapter by chapter")
    for chapter, entries in recorder.checklist.by_chapter().items():
        terminalreporter.write_line(f"{chapter} — {progress(entries)}")
        if any(_chapter(e.nodeid) in _unfinished for e in entries):
            for entry in entries:
                terminalreporter.write_line(entry_line(entry, markdown=False))


def pytest_runtest_teardown(item, nextitem) -> None:
    if not item.config.getoption("--first-unfinished"):
        return
    last_of_chapter = nextitem is None or _chapter(nextitem.nodeid) != _chapter(item.nodeid)
    if last_of_chapter and _chapter(item.nodeid) in _unfinished:
        item.session.shouldstop = f"{Path(_chapter(item.nodeid)).stem} is not finished yet"


# ----------------------------------------------------------------------------- progress
def _key(folder: Path) -> str:
    return hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]


def progress_path(folder: Path) -> Path:
    return REPORTS / f"progress-{_key(folder)}.json"


def report_path(folder: Path) -> Path:
    return REPORTS / f"next-{_key(folder)}.json"


def files_of(folder: Path) -> dict[str, list[int]]:
    """{path in the package: [size, modification time in ns]} of its Python files."""
    files = {}
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            st = path.stat()
            files[path.relative_to(folder).as_posix()] = [st.st_size, st.st_mtime_ns]
    return files


def recorded(folder: Path) -> tuple[list[str], set[str] | None]:
    """(the chapters the last ``next`` saw pass, the files of the package changed since:
    added, removed or saved; None where the record does not say)."""
    try:
        progress = json.loads(progress_path(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], set()
    if "files" not in progress:  # a record of an older loop: everything may have changed
        return list(progress.get("passing", [])), None
    then, now = progress["files"], files_of(folder)
    changed = {f for f in then.keys() | now.keys() if then.get(f) != now.get(f)}
    return list(progress.get("passing", [])), changed


def imports_of(file: Path, package: str) -> set[str]:
    """The modules of the package that ``file`` imports (``from . import cifar10``,
    ``from .cifar10 import train``, ``from mine import cifar10``, ``import mine.cifar10``)."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.split(".")[0] != package:
                continue
            parts = module.split(".")[1:] if node.level == 0 else module.split(".")
            if parts and parts[0]:
                found.add(parts[0])
            else:  # from . import a, b / from mine import a, b
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
    return found


def first_affected(folder: Path, package: str, changed: set[str]) -> int:
    """The first chapter (an index into the note's chapters) whose tests can see a change to
    the ``changed`` files: a chapter uses its own module and those of the chapters before
    it, and whatever they import. A file no chapter's module imports may be used by any."""
    numbers = list(CHAPTER_MODULES)
    chapter_of = {module: numbers.index(n) for n, module in CHAPTER_MODULES.items()}
    modules = {p.stem: p for p in folder.glob("*.py")}
    imported_by = {name: imports_of(path, package) for name, path in modules.items()}
    first = len(numbers)
    for file in changed:
        name = Path(file).stem if "/" not in file else None
        if name is None or name == "__init__":
            return 0
        affected, todo = set(), [name]
        while todo:  # every module that imports it, directly or through others
            current = todo.pop()
            if current not in affected:
                affected.add(current)
                todo += [m for m, imported in imported_by.items() if current in imported]
        chapters = [chapter_of[m] for m in affected if m in chapter_of]
        if not chapters:
            return 0
        first = min(first, *chapters)
    return first


def chapter_states(report: dict) -> dict[str, str]:
    """{'06': 'passing' | 'unfinished'} for each chapter the run reached."""
    states: dict[str, str] = {}
    for nodeid, test in report["tests"].items():
        number = Path(_chapter(nodeid)).name[:2]
        unfinished = test.get("kind") != "fact" and test["outcome"] in ("todo", "failed", "error")
        if unfinished:
            states[number] = "unfinished"
        else:
            states.setdefault(number, "passing")
    return states


# ----------------------------------------------------------------------------- commands
def chapter_files(numbers: list[str]) -> list[Path]:
    return [next(NOTE.glob(f"{n}_*.py")) for n in numbers]


def chapter_args(folder: Path, numbers: list[str], out: Path) -> list[str]:
    """pytest's arguments for a run of these chapters against ``folder``, its run report
    written to ``out``."""
    args = [*map(str, chapter_files(numbers)), "-q", "-p", "spec.exercises.loop",
            "--first-unfinished", "--impl", str(folder), "--run-report", str(out),
            "--no-header", "-rN", "--tb=short"]  # fmt: skip
    for plugin in QUIET:
        args += ["-p", plugin]
    return args


def run_chapters(folder: Path, numbers: list[str]) -> dict[str, str]:
    """Run these chapters against ``folder`` in one pytest process, stopping after the
    first unfinished one; {chapter: 'passing' | 'unfinished'} for those it reached."""
    REPORTS.mkdir(exist_ok=True)
    out = report_path(folder)
    out.unlink(missing_ok=True)
    warm.run_forked(chapter_args(folder, numbers, out), env={ENV: str(folder)})
    if not out.exists():
        return dict.fromkeys(numbers[:1], "unfinished")
    return chapter_states(load_run_report(out))


def run_next(folder: Path, package: str | None = None) -> int:
    """Chapter by chapter from the first not known to pass, until one is not finished.
    When files of the package changed since the last run, the chapters that can see the
    change (``first_affected``) up to that one are checked again, in one process."""
    numbers = list(CHAPTER_MODULES)
    package = package or resolve(str(folder)).package
    passing, changed = recorded(folder)
    first = next((i for i, n in enumerate(numbers) if n not in passing), len(numbers))
    start = first
    if changed is None:
        start = 0
    elif changed:
        start = min(first, first_affected(folder, package, changed))
    batch = numbers[start : first + 1]
    files = files_of(folder)
    while batch:
        states = run_chapters(folder, batch)
        passing = [n for n in numbers if n in passing and n not in batch] + [
            n for n in batch if states.get(n) == "passing"
        ]
        passing = [n for n in numbers if n in passing]
        progress_path(folder).write_text(json.dumps({"files": files, "passing": passing}))
        unfinished = [n for n in batch if states.get(n) != "passing"]
        if unfinished:
            print(
                f"\nnext: finish chapter {unfinished[0]} — `make hint IMPL={folder}` for its "
                "first to-do"
            )
            return 1
        after = numbers.index(batch[-1]) + 1
        batch = numbers[after : after + 1]
        if batch:
            print(f"\nchapter {numbers[after - 1]} passes: on to chapter {batch[0]}\n")
    print(
        f"\nevery chapter of the note passes on {folder}: `make spec IMPL={folder}` for the "
        "whole checklist"
    )
    return 0


def first_open(report: dict) -> tuple[str, dict] | None:
    """The first test, in the note's order, that is to do (else the first that failed)."""
    tests = sorted(report["tests"].items(), key=lambda kv: (_chapter(kv[0]), kv[1].get("order", 0)))
    for wanted in (("todo",), ("failed", "error")):
        for nodeid, test in tests:
            if test["outcome"] in wanted and test.get("kind") != "fact":
                return nodeid, test
    return None


def contract_docstring(what: str) -> tuple[str, str] | None:
    """('cifar10.train', its docstring as the skeleton shows it) for a to-do's text
    ('write cifar10.train (cifar10.py:123)')."""
    from spec.exercises.skeleton import contract_doc

    words = what.removeprefix("write ").split(" ")[0].split(".")
    if words[0] == "the" and len(what.split()) > 3:  # "write the module cifar10 (...)"
        words = [what.split()[3]]
    module, path = words[0], words[1:]
    file = REFERENCE / f"{module}.py"
    if not file.exists():
        return None
    node: ast.AST = ast.parse(file.read_text(encoding="utf-8"))
    for name in path:
        node = next(
            (n for n in getattr(node, "body", []) if getattr(n, "name", None) == name), node
        )
    doc = contract_doc(node) if path else (ast.get_docstring(node) or "")
    return ".".join(words), doc


def run_hint(folder: Path) -> int:
    candidates = [p for p in (report_path(folder), REPORTS / "run.json") if p.exists()]
    reports = []
    for path in candidates:
        data = load_run_report(path)
        if Path(data.get("implementation", {}).get("folder", "")) == folder.resolve():
            reports.append((path.stat().st_mtime, data))
    if not reports:
        print(f"no run of {folder} yet: `make next IMPL={folder}` first")
        return 1
    report = max(reports, key=lambda r: r[0])[1]
    found = first_open(report)
    if found is None:
        print(f"nothing to do in the last run of {folder}: `make next IMPL={folder}`")
        return 0
    nodeid, test = found
    print(f"{test['outcome'].replace('todo', 'to do')}: {nodeid}")
    print(f"  {test.get('doc', '')}")
    if test.get("note"):
        print(f'  the note: "{test["note"]}"')
    said = test.get("message") or test.get("reason", "")  # a failure's whole message
    print("\n".join(f"  {line}" for line in said.splitlines()) or "  ")
    if test["outcome"] == "todo":
        found_doc = contract_docstring(test.get("reason", ""))
        if found_doc:
            name, doc = found_doc
            print(f"\n{name}:\n{inspect.cleandoc(doc) if doc else '(no docstring)'}")
    return 0


def run_watch(folder: Path, *, rounds: int | None = None) -> int:
    """``next`` now and after every save, from one warm process (``spec.exercises.warm``);
    ``rounds``: stop after that many checks (the tests' way out; Ctrl-C otherwise)."""
    started = time.monotonic()
    REPORTS.mkdir(exist_ok=True)
    code, printed = warm.preload(chapter_args(folder, list(CHAPTER_MODULES), REPORTS / "x"))
    if code not in (0, 5):  # 5: nothing collected, as with every chapter skipped
        print(printed)
        print(f"watch: collecting the chapters failed (pytest exit code {code}): stopping")
        return 2
    stray = warm.imported_from(folder)
    if stray:
        print(f"watch: the warm process imported your code ({', '.join(stray)}): stopping")
        return 2
    print(f"watch: libraries and chapters imported in {time.monotonic() - started:.1f} s")
    watcher = warm.Watcher(folder)
    checks, polls = 0, 0
    try:
        while rounds is None or checks < rounds:
            if checks == 0 or watcher.changed():
                saved = watcher.last_saved()
                if sys.stdout.isatty():
                    print("\033[2J\033[H", end="")
                run_next(folder)
                checks += 1
                if checks > 1:
                    print(f"\nwatch: answered {time.time() - saved:.1f} s after your last save")
                print(f"watch: waiting for a save in {folder} (Ctrl-C to stop)", flush=True)
            polls += 1
            if polls % 10 == 0 and watcher.restart_needed():
                print("watch: the spec or the installed packages changed: restarting", flush=True)
                warm.restart()
            time.sleep(warm.POLL_S)
    except KeyboardInterrupt:
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.exercises.loop", description=__doc__)
    parser.add_argument("command", choices=["next", "hint", "watch"])
    parser.add_argument("--impl", required=True, help="your package's folder (make exercises)")
    args = parser.parse_args(argv)
    try:
        under_test = resolve(args.impl)
    except ValueError as error:
        parser.error(str(error))
    if under_test.is_reference:
        parser.error("--impl names the reference: give the folder of your own package")
    return {"next": run_next, "hint": run_hint, "watch": run_watch}[args.command](under_test.folder)


if __name__ == "__main__":
    raise SystemExit(main())
