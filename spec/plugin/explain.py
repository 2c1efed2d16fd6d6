"""``pytest --explain FILE``: an old note's blocks as tests, as chapter 17 runs the note's own.

Run from the project's folder (its conftest registers this plugin); FILE may be anywhere.

The file is run once by ``spec.tools.explain`` (its blocks in order, in one namespace, in
forked children, offline); each block is then one test: it passes where the block ran (its
warnings explained), is an expected failure where what it raised is explained (by a drift
row, what the machine lacks, or the file's own gap), and fails, saying what, where
anything is unexplained or the block crashed or hung.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("spec").addoption(
        "--explain",
        metavar="FILE",
        help="run an old note (.md, .ipynb or .py) block by block, each block a test",
    )


def pytest_configure(config: pytest.Config) -> None:
    """``pytest --explain FILE`` runs that file's blocks, and nothing else."""
    explained = config.getoption("--explain")
    if explained:
        config.args[:] = [str(Path(explained).resolve())]


def pytest_collect_file(file_path: Path, parent):
    explained = parent.config.getoption("--explain")
    if explained and Path(explained).resolve() == file_path.resolve():
        return ExplainedFile.from_parent(parent, path=file_path)
    return None


class ExplainedFile(pytest.File):
    def collect(self):
        from spec.tools import explain

        blocks = explain.read_blocks(self.path)
        outcomes = explain.run(blocks, self.path)
        for outcome in outcomes:
            name = f"block {outcome.number}, line {outcome.line}, {outcome.title[:40]}"
            yield ExplainedBlock.from_parent(self, name=name, outcome=outcome)


class ExplainedBlock(pytest.Item):
    def __init__(self, *, outcome, **kwargs):
        super().__init__(**kwargs)
        self.outcome = outcome

    def runtest(self) -> None:
        from spec.tools import explain

        outcome, line = self.outcome, explain.line_of(self.outcome)
        if outcome.status in ("stopped", "crashed") or outcome.unexplained:
            raise AssertionError(line)
        if outcome.status == "failed":
            pytest.xfail(line)

    def reportinfo(self):
        return self.path, self.outcome.line - 1, self.name
