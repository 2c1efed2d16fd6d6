"""Structure — no import cycles, a README within its budget, the project speaking of itself.

What a maintainer sees at a glance: modules that import each other in one direction, a
README a learner can read, and nothing that speaks of how the project was built instead
of what it is."""

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reference", "spec", "benchmarks")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in it (function-local imports
    too: hiding an import in a function does not remove the cycle)."""
    files = [p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")]
    modules = {module_name(p) if root == ROOT else _name(p, root): p for p in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_of_the_project_imports_itself_round_a_cycle():
    """reference, spec and benchmarks form no import cycle, counting function-local imports."""
    graph = import_graph()
    assert "benchmarks.cores" in graph["benchmarks.kernels_cli"]  # the graph sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_hidden_cycle(tmp_path):
    """A cycle hidden in a function-local import is found."""
    pkg = tmp_path / "benchmarks"
    pkg.mkdir()
    (pkg / "a.py").write_text("from benchmarks import b\n")
    (pkg / "b.py").write_text("def f():\n    from benchmarks import a\n")
    (tmp_path / "reference").mkdir()
    (tmp_path / "spec").mkdir()
    assert find_cycle(import_graph(tmp_path)) == ["benchmarks.a", "benchmarks.b", "benchmarks.a"]


# --------------------------------------------------------------------------- the README
README = ROOT / "README.md"
#: The front page's budget: what it is, the two commands, where to start, the chapters,
#: the errata, and one line to each guide.
README_LIMIT = 12_000


def test_the_readme_fits_its_budget():
    """README.md is at most 12,000 characters; details live in the guides it points to."""
    text = README.read_text(encoding="utf-8")
    assert len(text) <= README_LIMIT, len(text)
    for guide in ("benchmarks/README.md", "spec/guarantees/README.md", "spec/UPGRADING.md"):
        assert guide in text, guide
        assert (ROOT / guide).is_file(), guide


def markdown_tables(text: str) -> list[list[str]]:
    """Every table in a Markdown text, as its lines; a blank line ends a table."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_every_readme_table_is_whole():
    """Each table has a header and a separator, and every chapter is in the chapter table
    (a blank line inside a table renders the rest as literal pipes)."""
    text = README.read_text(encoding="utf-8")
    for table in markdown_tables(text):
        assert len(table) >= 3, table
        assert re.fullmatch(r"\|( *:?-+:? *\|)+", table[1].replace(" ", "")), table[:2]
    chapters = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("spec/*/[0-9][0-9]_*.py"))
    table = next(t for t in markdown_tables(text) if "spec/note/01_tensors.py" in "".join(t))
    for chapter in chapters:
        assert any(chapter in row for row in table), f"{chapter} missing from the chapter table"


# ------------------------------------------------------- the project speaks of itself only
#: Words about how the project was built, not what it is. (A machine is named by what it
#: is and the date: "H200, torch 2.11, 2026-11-27".)
BUILD_WORDS = re.compile(
    r"\b(lease[sd]?|leasing|lent|the issue'?s?|issue #?\d+|this session)\b", re.I
)


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    text_types = (".py", ".md", ".toml", ".txt", ".cfg", "", ".yml", ".yaml")
    paths = [ROOT / line for line in out.splitlines()]
    return [
        p for p in paths if p.suffix in text_types and p.is_file() and p.name != "pytorch-notes.md"
    ]


def test_nothing_in_the_project_speaks_of_how_it_was_built():
    """No tracked file speaks of how the project was built instead of what it is; machines
    are named by what they are and the date."""
    this = Path(__file__).resolve()
    offenders = []
    for path in tracked_text_files():
        if path.resolve() == this:
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            if BUILD_WORDS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:90]}")
    assert not offenders, "\n".join(offenders[:40]) + f"\n({len(offenders)} lines)"


@pytest.mark.parametrize("package", ["spec/helpers", "spec/plugin", "spec/tools"])
def test_each_support_package_says_what_each_of_its_modules_is(package):
    """spec/helpers (what tests import), spec/plugin (pytest plugins), spec/tools (command
    lines): each __init__ names every module beside it, so a reader finds things from
    the folder names and one docstring."""
    import importlib

    folder = ROOT / package
    doc = importlib.import_module(package.replace("/", ".")).__doc__ or ""
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f"``{m}``" not in doc]
    assert not missing, f"{package}/__init__.py does not say what these are: {missing}"


def test_the_plugins_are_what_conftest_loads_and_the_tools_run_as_commands():
    import conftest

    plugins = sorted(p.stem for p in (ROOT / "spec/plugin").glob("*.py") if p.stem != "__init__")
    ours = [p for p in conftest.pytest_plugins if p.startswith("spec.")]
    assert sorted(ours) == [f"spec.plugin.{p}" for p in plugins]
    assert set(conftest.pytest_plugins) - set(ours) == {"pytester"}  # pytest's own, for tests
    for tool in (ROOT / "spec/tools").glob("*.py"):
        if tool.stem != "__init__":
            assert 'if __name__ == "__main__":' in tool.read_text(encoding="utf-8"), tool.name
