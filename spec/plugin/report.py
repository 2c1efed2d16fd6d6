"""pytest plugin: the spec as a checklist grouped by chapter, plus a Markdown report.

``--checklist`` prints it after the run; ``--spec-report PATH`` writes it to a file.
Each test is shown by the first line of its docstring (the note's wording where it has
one) and its parameters. Works under pytest-xdist: what the controller needs travels in
``report.user_properties``.

``--run-report PATH`` writes the machine-readable report: pytest-json-report's (its
tests, phases, durations, collectors, summary), with the spec's own part added through
its hook (``pytest_json_modifyreport``): each test's chapter, kind, outcome (with
"to do"), quote and figures under ``metadata["spec"]``, the run's versions, devices,
implementation, goldens and warnings under ``"spec"``. ``load_run_report`` reads it
back as one flat table by test, which is what compare, atlas and the exercise loop use.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spec.helpers import environment, implementation, note
from spec.helpers.pictures import pictures_of
from spec.helpers.run_report import (  # noqa: F401  (the plugin's readers, named here too)
    FILE_SCHEMA,
    SCHEMA,
    load_run_report,
    read_json,
    write_atomically,
)
from spec.plugin.outcomes import KIND_KEY, KINDS

#: pytest-json-report's fields left out of the file: bulky and read by nothing here.
JSON_REPORT_OMIT = ["keywords", "streams", "log"]
GOLDEN_KEY = "spec_golden"
#: Warning categories a run report keeps: today's warnings are tomorrow's breakages.
TRACKED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)

DOC_KEY = "spec_doc"
NOTE_KEY = "spec_note"
CHAPTER_KEY = "spec_chapter"
ORDER_KEY = "spec_order"
TAG_KEY = "spec_tag"

#: Docstring words that flag where the note is wrong or out of date; shown in the checklist.
TAGS = (("Erratum", "erratum"), ("Changed in", "changed since the note"))

MARKS = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "todo": "TODO",
    "skipped": "SKIP",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
}
MD_MARKS = {
    "passed": "✅",
    "failed": "❌",
    "error": "💥",
    "todo": "📝 to do",
    "skipped": "⏭️",
    "xfailed": "☑️ (expected failure)",
    "xpassed": "❗ (unexpectedly passed)",
}


def first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc).splitlines()[0].strip() if doc and doc.strip() else ""


def tag_of(doc: str | None) -> str:
    return ", ".join(tag for word, tag in TAGS if doc and word in doc)


def chapter_of(nodeid: str, module_doc: str | None) -> str:
    """The checklist's heading for a test module, from its folder, number and docstring.

    'spec/note/01_tensors.py' with docstring 'Tensors ...' -> '01 Tensors ...' (the note's
    chapters); 'spec/guarantees/02_resume.py' -> 'G02 Resume ...' (the project's own
    guarantees, listed after the note); 'spec/meta/test_h.py' -> 'meta ...'.
    """
    path = Path(nodeid.split("::", 1)[0])
    title = first_line(module_doc) or path.stem
    number = path.stem.split("_", 1)[0]
    if number.isdigit():
        prefix = "G" if path.parent.name == "guarantees" else ""
        return f"{prefix}{number} {title}"
    return f"{path.parent.name} {title}" if path.parent.name == "meta" else title


def short(chapter: str) -> str:
    """'01 Tensors — long subtitle' -> '01 Tensors'."""
    return chapter.split(" — ", 1)[0]


@dataclass
class Entry:
    nodeid: str
    chapter: str
    doc: str
    order: int = 0
    tag: str = ""
    kind: str = "implementation"
    note: str = ""  # the line of the note the test quotes
    outcome: str = "passed"
    reason: str = ""  # one line: the checklist's line, compare's and the atlas' tables
    message: str = ""  # a failure's whole message: expected, got, every "did you ...?"
    traceback: str = ""  # a failure's traceback, folded under its message on the page
    duration: float = 0.0
    goldens: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    pictures: list[dict[str, str]] = field(default_factory=list)  # shown on the page

    @property
    def name(self) -> str:
        """The test's own name, with its parameters: ``test_x[cpu]``."""
        path_and_name, bracket, params = self.nodeid.partition("[")  # params may hold "::"
        return path_and_name.split("::")[-1] + bracket + params

    @property
    def claim(self) -> str:
        """The test's sentence and its parameters: ``x.new_ones(...) ... [cpu]``."""
        name = self.name
        params = name[name.index("[") :] if "[" in name else ""
        text = self.doc or name.split("[")[0].removeprefix("test_").replace("_", " ")
        return f"{text} {params}".rstrip()

    @property
    def label(self) -> str:
        return self.claim + (f" ({self.tag})" if self.tag else "")

    @property
    def measured(self) -> str:
        """'accuracy 54.4 %, loss 2.30 -> 0.87': what the test measured (``record_property``)."""
        return ", ".join(f"{k} {v}" for k, v in self.figures.items())


@dataclass
class Checklist:
    entries: dict[str, Entry] = field(default_factory=dict)

    # Outcome precedence across setup/call/teardown phases.
    def record(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        entry = self.entries.get(report.nodeid)
        if entry is None:
            entry = Entry(
                nodeid=report.nodeid,
                chapter=props.get(CHAPTER_KEY) or chapter_of(report.nodeid, None),
                doc=props.get(DOC_KEY, ""),
                order=int(props.get(ORDER_KEY, 0)),
                tag=props.get(TAG_KEY, ""),
                kind=props.get(KIND_KEY, "implementation"),
                note=props.get(NOTE_KEY, ""),
            )
            self.entries[report.nodeid] = entry
        entry.duration += getattr(report, "duration", 0.0) or 0.0
        recorded = [value for key, value in report.user_properties if key == GOLDEN_KEY]
        if recorded:  # each phase's report carries the test's properties: keep the latest
            entry.goldens = recorded
        entry.figures.update(figures_of(report.user_properties))
        entry.pictures = pictures_of(report.user_properties) or entry.pictures
        outcome = _outcome(report)
        if outcome is None:
            return
        order = ["passed", "xfailed", "skipped", "todo", "xpassed", "failed", "error"]
        if order.index(outcome) >= order.index(entry.outcome):
            entry.outcome = outcome
            entry.reason = _reason(report)
            entry.message = _message(report)
            entry.traceback = _traceback(report) if entry.message else ""

    def record_collection(self, report: pytest.CollectReport) -> None:
        """A module that could not be collected (an error) or was skipped as a whole (a
        library it needs is missing): one entry for the module, so that a run report
        shows the chapter and why it did not run."""
        path = Path(report.nodeid.split("::", 1)[0])
        if report.passed or path.suffix != ".py" or report.nodeid in self.entries:
            return
        doc = None
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        reason = skip_reason(report)
        if reason is None:
            text = str(report.longrepr).strip().splitlines()
            reason = text[-1] if text else "collection failed"
        self.entries[report.nodeid] = Entry(
            nodeid=report.nodeid,
            chapter=chapter_of(report.nodeid, doc),
            doc=f"(the whole module: {'skipped' if report.skipped else 'not collected'})",
            order=-1,
            outcome="skipped" if report.skipped else "error",
            reason=reason,
        )

    def by_chapter(self) -> dict[str, list[Entry]]:
        groups: dict[str, list[Entry]] = defaultdict(list)
        for entry in sorted(self.entries.values(), key=lambda e: e.order):
            groups[entry.chapter].append(entry)
        return dict(sorted(groups.items()))

    def counts(self, entries: list[Entry] | None = None) -> Counter:
        return Counter(e.outcome for e in (entries or list(self.entries.values())))

    def skip_reasons(self) -> Counter:
        return Counter(e.reason for e in self.entries.values() if e.outcome == "skipped")


def library_of(filename: str) -> str:
    """The library a warning came from, by the file that emitted it: the package folder
    under site-packages ('torch', 'pytorch_lightning'), else the project's own folder."""
    parts = Path(str(filename)).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts and parts.index(marker) + 1 < len(parts):
            return parts[parts.index(marker) + 1].removesuffix(".py")
    for own in ("reference", "spec", "benchmarks"):
        if own in parts:
            return own
    return Path(str(filename)).stem or "?"


def figures_of(properties) -> dict[str, str]:
    """The figures a test measured: every ``record_property(name, value)`` of its own
    (the plugin's keys start with ``spec_``). Floats print with 4 significant digits."""
    out = {}
    for key, value in properties:
        if str(key).startswith("spec_"):
            continue
        out[str(key)] = f"{value:.4g}" if isinstance(value, float) else str(value)
    return out


def _outcome(report: pytest.TestReport) -> str | None:
    if getattr(report, "spec_todo", None):
        return "todo"
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed" if report.passed else None
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    if report.passed and report.when == "call":
        return "passed"
    return None


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """Why a test or a module was skipped (pytest keeps it as "Skipped: why"), or None."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return None


def _reason(report: pytest.TestReport) -> str:
    if getattr(report, "spec_todo", None):
        return report.spec_todo
    if (skipped := skip_reason(report)) is not None:
        return skipped
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        return crash.message.splitlines()[0] if crash is not None else ""
    return ""


#: Lines of a failure's message kept: a bare assert's introspection can print tensors.
MESSAGE_LINES = 40


def failure_message(text: str) -> str:
    """A failure's whole message as the test wrote it — what the note expects, what the
    code did, every "did you ...?" — from pytest's crash line (``AssertionError: ...``).

    After a message of the test's own, pytest adds its introspection of the failed
    ``assert`` (``assert a == b``, ``+  where ...``): left out, the message says it. A bare
    ``assert`` has only the introspection: it is kept. At most ``MESSAGE_LINES`` lines."""
    lines = text.rstrip().splitlines()
    if not lines:
        return ""
    if not lines[0].startswith("AssertionError: assert "):
        for i, line in enumerate(lines[1:], 1):
            if line.startswith("assert "):
                lines = lines[:i]
                break
    if len(lines) > MESSAGE_LINES:
        lines = [*lines[:MESSAGE_LINES], f"... ({len(lines) - MESSAGE_LINES} more lines)"]
    return "\n".join(lines)


def _message(report: pytest.TestReport) -> str:
    """The whole message of a failed or erroring test (``failure_message``), else ""."""
    if not report.failed or getattr(report, "spec_todo", None) or hasattr(report, "wasxfail"):
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    return failure_message(crash.message) if crash is not None else ""


#: Characters of a traceback kept on the page.
TRACEBACK_CHARS = 20_000


def _traceback(report: pytest.TestReport) -> str:
    text = str(report.longrepr or "")
    return text if len(text) <= TRACEBACK_CHARS else text[:TRACEBACK_CHARS] + "\n..."


def summarize(counts: Counter) -> str:
    parts = [f"{counts[k]} {k}" for k in MARKS if counts.get(k)]
    return ", ".join(parts) or "no tests"


def is_note_chapter(chapter: str) -> bool:
    """'06 NEURAL NETWORKS' is the note's; 'G01 Safe checkpoints' and 'meta ...' are the
    project's own."""
    return chapter[:2].isdigit()


def tally(entries: list[Entry]) -> str:
    """'7 of 19 pass, 12 to do, 1 skipped': how a group of tests came out."""
    counts = Counter(e.outcome for e in entries)
    ran = len(entries) - counts["skipped"]
    parts = [f"{counts['passed']} of {ran} pass"]
    for outcome, words in (
        ("todo", "to do"), ("failed", "fail"), ("error", "error"),
        ("xfailed", "fail as predicted"), ("xpassed", "pass unexpectedly"),
        ("skipped", "skipped"),
    ):  # fmt: skip
        if counts[outcome]:
            parts.append(f"{counts[outcome]} {words}")
    return ", ".join(parts)


def progress(entries: list[Entry]) -> str:
    """A chapter's head: 'your code: 7 of 19 pass, 12 to do; facts: 9 of 9 pass'.

    Facts (tests of PyTorch or of the note's own code) and the reference's own guarantees
    are counted apart: a learner's progress is the implementation tests alone."""
    reference = implementation.current().is_reference
    groups = {kind: [e for e in entries if e.kind == kind] for kind in KINDS}
    parts = []
    if groups["implementation"]:
        who = "reference" if reference else "your code"
        parts.append(f"{who}: {tally(groups['implementation'])}")
    if groups["fact"]:
        parts.append(f"facts: {tally(groups['fact'])}")
    extras = groups["extra"]
    if extras and not reference and all(e.outcome == "skipped" for e in extras):
        parts.append(f"the reference's own: {len(extras)} not demanded")
    elif extras:
        parts.append(f"the reference's own: {tally(extras)}")
    if groups["tooling"]:
        parts.append(f"the project's tooling: {tally(groups['tooling'])}")
    return "; ".join(parts)


def entry_line(e: Entry, *, markdown: bool) -> str:
    """The test's line; under a failure whose message says more than its first line, the
    whole message (in Markdown a text block of the list item)."""
    note = f" — {e.reason}" if e.reason and e.outcome != "passed" else ""
    if e.measured and e.outcome in ("passed", "failed"):
        note += f" — measured: {e.measured}"
    more = e.message.splitlines()[1:] if e.message else []
    if markdown:
        line = f"- {MD_MARKS[e.outcome]} {e.label}{note} · `{e.name}`"
        if more:
            block = ["", "  ```text", *(f"  {m}" for m in e.message.splitlines()), "  ```", ""]
            line = "\n".join([line, *block])
        return line
    line = f"  [{MARKS[e.outcome]:>5}] {e.label}{note} ({e.name})"
    return "\n".join([line, *(f"          {m}" for m in more)])


def render(checklist: Checklist, *, markdown: bool) -> str:
    """The checklist: the note's chapters first, each headed by its progress; then the
    project's own guarantees and tooling tests (folded, in Markdown)."""
    lines: list[str] = []
    if markdown:
        lines += ["# pytorch-notes-spec — the executable specification", ""]
        lines += [f"Implementation under test: {implementation.current().describe()}", ""]
    chapters = checklist.by_chapter()
    own = {c: es for c, es in chapters.items() if not is_note_chapter(c)}
    folded = False
    for chapter, entries in chapters.items():
        if markdown and chapter in own and not folded:
            every = [e for es in own.values() for e in es]
            lines += [
                "<details><summary>The project's own guarantees and tooling tests "
                f"({summarize(checklist.counts(every))})</summary>",
                "",
            ]
            folded = True
        head = f"{chapter} — {progress(entries)}"
        lines.append(f"## {head}" if markdown else head)
        if markdown:
            lines.append("")
        lines += [entry_line(e, markdown=markdown) for e in entries]
        lines.append("")
    if folded:
        lines += ["</details>", ""]
    lines += summary_lines(checklist, markdown=markdown)
    return "\n".join(lines) + "\n"


def code_spans(text: str):
    """``x`` (a docstring's code) as <code>x</code>, the rest escaped."""
    import re

    from markupsafe import Markup, escape

    parts = re.split(r"``(.+?)``", text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


def render_html(checklist: Checklist) -> str:
    """The page a learner opens (``--spec-html``): the note's chapters in order, each
    claim with the note's line, its outcome and what it measured; a failure's whole
    message first and its traceback folded; the project's own chapters folded at the
    end. A self-contained file (spec/plugin/page.html.j2)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = code_spans
    chapters = checklist.by_chapter()
    own = [c for c in chapters if not is_note_chapter(c)]
    every_own = [e for c in own for e in chapters[c]]
    return env.get_template("page.html.j2").render(
        who=implementation.current().describe(),
        marks={k: v.lower() for k, v in MARKS.items()} | {"todo": "to do"},
        note_chapters=[(c, es, progress(es)) for c, es in chapters.items() if c not in own],
        own_chapters=[(c, chapters[c], progress(chapters[c])) for c in own],
        own_summary=summarize(checklist.counts(every_own)),
        summary=[line.strip() for line in summary_lines(checklist, markdown=False) if line],
    )


def summary_lines(checklist: Checklist, *, markdown: bool) -> list[str]:
    bullet = "- " if markdown else "  "
    lines = ["## Summary", ""] if markdown else ["Summary"]
    versions = environment.versions()
    lines.append(bullet + "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines.append(bullet + "devices seen: " + ", ".join(environment.devices_seen()))
    lines.append(bullet + f"implementation under test: {implementation.current().describe()}")
    lines.append(bullet + f"total: {summarize(checklist.counts())}")
    every = list(checklist.entries.values())
    lines.append(bullet + f"by kind: {progress(every)}")
    for chapter, entries in checklist.by_chapter().items():
        lines.append(bullet + f"{short(chapter)}: {summarize(checklist.counts(entries))}")
    reasons = checklist.skip_reasons()
    if reasons:
        lines.append(bullet + "skip reasons:")
        for reason, n in reasons.most_common():
            lines.append(("  - " if markdown else "    ") + f"{n} x {reason}")
    return lines


# --------------------------------------------------------------------------- hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spec report")
    group.addoption(
        "--checklist",
        action="store_true",
        default=False,
        help="print the spec as a checklist grouped by chapter after the run",
    )
    group.addoption(
        # Not --json-report: the pytest-json-report plugin owns that name.
        "--run-report",
        metavar="PATH",
        default=None,
        help="write a machine-readable run report (versions, devices, outcomes, durations, "
        "goldens, deprecation warnings) to PATH; compare two with python -m spec.tools.compare",
    )
    group.addoption(
        "--spec-report",
        metavar="PATH",
        default=None,
        help="write the checklist and summary as Markdown to PATH",
    )
    group.addoption(
        "--spec-html",
        metavar="PATH",
        default=None,
        help="write the checklist as the learner's HTML page to PATH: each claim with the "
        "note's line, a failure's whole message first, its traceback folded",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # first: the order recorded is the note's (file) order, before conftest moves the
    # long tests to the front for pytest-xdist
    for index, item in enumerate(items):
        obj = getattr(item, "obj", None)
        module = getattr(item, "module", None)
        doc = getattr(obj, "__doc__", None)
        item.user_properties.append((DOC_KEY, first_line(doc)))
        quotes = note.quotes_in(inspect.cleandoc(doc)) if doc else []
        item.user_properties.append((NOTE_KEY, quotes[0] if quotes else ""))
        item.user_properties.append((ORDER_KEY, index))
        item.user_properties.append((TAG_KEY, tag_of(doc)))
        item.user_properties.append(
            (CHAPTER_KEY, chapter_of(item.nodeid, getattr(module, "__doc__", None)))
        )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # first: pytest-json-report's own pytest_configure reads these options after ours
    if config.getoption("--run-report"):
        if not config.pluginmanager.hasplugin("pytest_jsonreport"):
            raise pytest.UsageError(
                "--run-report is built on pytest-json-report: install it (it is in "
                "requirements.lock) and do not disable it with -p no:pytest_jsonreport"
            )
        config.option.json_report = True
        config.option.json_report_file = None  # written here, atomically, once complete
        config.option.json_report_omit = [*config.option.json_report_omit, *JSON_REPORT_OMIT]
    recorder = Recorder(config)
    config.pluginmanager.register(recorder, "spec-report-recorder")
    if config.getoption("--run-report"):  # the hook exists only where the plugin is on
        config.pluginmanager.register(SpecPart(recorder), "spec-report-json-part")


class Recorder:
    """Collects every test report (on the xdist controller too) and renders at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.checklist = Checklist()
        self.warnings: dict[str, set[str]] = defaultdict(set)
        self.warning_libraries: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.checklist.record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.checklist.record_collection(report)

    def pytest_warning_recorded(self, warning_message, when, nodeid, location) -> None:
        if nodeid and issubclass(warning_message.category, TRACKED_WARNINGS):
            text = str(warning_message.message).strip().splitlines()
            line = f"{warning_message.category.__name__}: {text[0] if text else ''}"
            self.warnings[nodeid].add(line)
            self.warning_libraries[line] = library_of(warning_message.filename)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.config.getoption("--checklist"):
            terminalreporter.section("executable specification")
            terminalreporter.write(render(self.checklist, markdown=False))
        path = self.config.getoption("--spec-report")
        if path:
            out = write_atomically(path, render(self.checklist, markdown=True))
            terminalreporter.write_line(f"spec report written to {out}")
        page = self.config.getoption("--spec-html")
        if page:
            out = write_atomically(page, render_html(self.checklist))
            terminalreporter.write_line(f"spec page written to {out}")


class SpecPart:
    """pytest-json-report's report, with the spec's part added (on the controller, once
    every test has reported), then written to ``--run-report``'s path, atomically."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.built: dict | None = None

    def pytest_json_modifyreport(self, json_report: dict) -> None:
        r = self.recorder
        # xdist's controller ran no test: the threads are those it pinned in each worker
        controller = environment.is_xdist_controller(r.config)
        threads = environment.pinned_threads() if controller else None
        ours = run_report(r.checklist, r.warnings, r.warning_libraries, threads=threads)
        add_spec_part(json_report, ours)
        self.built = json_report

    def pytest_terminal_summary(self, terminalreporter) -> None:
        path = self.recorder.config.getoption("--run-report")
        if self.built is not None:
            out = write_atomically(path, json.dumps(self.built, indent=1, sort_keys=True))
            terminalreporter.write_line(f"run report written to {out}")


def add_spec_part(json_report: dict, ours: dict) -> None:
    """Put the flat run report ``ours`` into pytest-json-report's ``json_report``: each
    test's row as its ``metadata["spec"]``, the rest (and the rows of modules that were
    skipped or not collected as a whole) as ``json_report["spec"]``."""
    rows = dict(ours["tests"])
    for test in json_report.get("tests", []):
        row = rows.pop(test["nodeid"], None)
        if row is not None:
            test.setdefault("metadata", {})["spec"] = row
    json_report["spec"] = {
        **{k: v for k, v in ours.items() if k != "tests"},
        "schema": FILE_SCHEMA,
        "modules": rows,
    }


def run_report(
    checklist: Checklist,
    warned: dict[str, set[str]],
    libraries: dict[str, str] | None = None,
    threads: int | None = None,
) -> dict:
    """The machine-readable report of one run (schema ``SCHEMA``); ``libraries``: the
    library that emitted each warning (from its file), for the upgrade report;
    ``threads``: the tests' torch threads where this process ran none."""
    libraries = libraries or {}
    tests, goldens, tolerances = {}, {}, {}
    for nodeid, e in sorted(checklist.entries.items()):
        tests[nodeid] = {
            "chapter": short(e.chapter),
            "doc": e.doc,
            "outcome": e.outcome,
            "kind": e.kind,
            "order": e.order,
            "note": e.note,
            "reason": e.reason,
            "message": e.message,
            "duration_s": round(e.duration, 4),
            "warnings": sorted(warned.get(nodeid, ())),
            "measured": dict(e.figures),
        }
        for golden in e.goldens:
            goldens[golden["name"]] = golden["values"]
            if golden.get("tolerance") is not None:
                tolerances[golden["name"]] = golden["tolerance"]
    return {
        "schema": SCHEMA,
        "versions": environment.versions(),
        "implementation": implementation_info(),
        "spec": spec_info(),
        "devices": environment.device_info(threads),
        "counts": dict(checklist.counts()),
        "tests": tests,
        "goldens": goldens,
        "golden_tolerances": tolerances,
        "warning_libraries": dict(sorted(libraries.items())),
    }


def spec_info() -> dict:
    """The spec's own commit, and whether its checkout had changes (a report of a clean
    commit can be reused: ``make matrix``)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  check=True, timeout=30).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD")
    return {"commit": commit or None, "dirty": bool(git("status", "--porcelain")) or not commit}


def implementation_info() -> dict:
    """What the run tested: its folder, package name and git commit."""
    under_test = implementation.current()
    return {
        "given": under_test.given,
        "package": under_test.package,
        "folder": str(under_test.folder),
        "commit": under_test.commit,
        "is_reference": under_test.is_reference,
    }
