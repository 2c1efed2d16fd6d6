"""The atlas and make matrix: companion sets by rule, one-line conflicts, the atlas page."""

import json

import pytest

from spec.plugin import report
from spec.tools import atlas, companions

UV_CONFLICT = """\
  × No solution found when resolving dependencies:
  ╰─▶ Because torchvision==0.20.1 depends on torch==2.5.1 and you require torch==2.0.1, \
we can conclude that your requirements and torchvision==0.20.1 are incompatible.
"""


def test_each_release_gets_its_own_torchvision_and_numpy_below_2_before_torch_2_3():
    """torch 2.0.1 brings torchvision 0.15.2 and numpy<2; 2.3.1 no cap; 1.13.1 no torchvision."""
    old = companions.pins("2.0.1")
    assert old[:3] == ["torch==2.0.1", "torchvision==0.15.2", "numpy<2"]
    assert "numpy<2" in companions.pins("2.2.2")
    assert not any(p.startswith("numpy") for p in companions.pins("2.3.1"))
    assert not any(p.startswith("torchvision") for p in companions.pins("1.13.1"))
    assert "pretrainedmodels" not in companions.pins("1.13.1")  # it requires torchvision
    assert companions.pins("2.9.1", torchvision="0.24.0")[1] == "torchvision==0.24.0"
    assert "pytorch-lightning" in companions.pins("2.15.0")  # unpinned: the resolver picks


def test_the_supported_range_has_every_minor_release_from_2_0_to_the_newest():
    """2.0 through 2.15, one release of each minor version, and 1.13.1 for the old sides."""
    minors = {tuple(map(int, v.split(".")[:2])) for v in companions.RELEASES}
    assert {(2, m) for m in range(16)} | {(1, 13)} == minors


@pytest.mark.parametrize(
    ("given", "hint"),
    [("2.0", "(did you mean 2.0.1?)"), ("9.9.9", None), ("2.0.0", "(did you mean 2.0.1?)"),
     ("latest", None)],
)  # fmt: skip
def test_a_release_outside_the_supported_list_is_refused_in_one_line_listing_them(
    given, hint, tmp_path, capsys
):
    """No patch number, unknown, no companions: refused in one line naming every supported one.

    Nothing is installed and no venv is made."""
    why = companions.unsupported(given)
    assert why.count("\n") == 0
    assert why.endswith("supported: " + ", ".join(companions.RELEASES))
    assert (hint in why) if hint else "did you mean" not in why
    venv = tmp_path / "venv"
    assert companions.install(given, venv) == 2
    assert capsys.readouterr().out.strip() == why
    assert not venv.exists()
    assert companions.unsupported("2.14.1") is None


def fake_uv(tmp_path, fail_install: bool):
    """A ``uv`` that makes the venv folder and fails (or passes) the install like uv does."""
    script = tmp_path / "uv"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = venv ]; then mkdir -p "$4/bin"; touch "$4/bin/python"; exit 0; fi\n'
        + (f"printf '%s' {UV_CONFLICT!r} >&2; exit 1\n" if fail_install else "exit 0\n")
    )
    script.chmod(0o755)
    return str(script)


def test_a_failed_install_leaves_no_venv_behind(tmp_path, monkeypatch, capsys):
    """An install the resolver refuses removes the venv it created (one it did not create stays)."""
    monkeypatch.setattr(companions, "uv", lambda: fake_uv(tmp_path, fail_install=True))
    venv = tmp_path / ".venv-torch2.0.1"
    assert companions.install("2.0.1", venv) == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith("matrix: torch==2.0.1 torchvision==0.15.2 numpy<2 cannot be installed")
    assert "Because torchvision==0.20.1 depends on torch==2.5.1" in out
    assert not venv.exists()
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    assert companions.install("2.0.1", venv) == 1
    assert venv.exists()  # somebody's venv: not ours to delete


def test_a_run_report_of_this_commit_and_release_is_reused(tmp_path, monkeypatch):
    """make matrix reuses the installed release's run report only for the same clean commit.

    And the same torch release; a checkout changed since is run again."""
    git = {("rev-parse", "HEAD"): "abc123", ("status", "--porcelain"): ""}
    monkeypatch.setattr(companions, "_git", lambda *args: git[args])
    report = tmp_path / "run.json"

    def write(**spec):
        data = {"spec": {"commit": "abc123", "dirty": False, **spec},
                "versions": {"torch": "2.14.1+cu130"}}  # fmt: skip
        report.write_text(json.dumps(data))

    write()
    assert companions.fresh(report, "2.14.1")
    assert not companions.fresh(report, "2.13.0")
    write(commit="def456")
    assert not companions.fresh(report, "2.14.1")
    write(dirty=True)
    assert not companions.fresh(report, "2.14.1")
    write()
    git[("status", "--porcelain")] = " M reference/cifar10.py"
    assert not companions.fresh(report, "2.14.1")  # the checkout changed since
    assert not companions.fresh(tmp_path / "missing.json", "2.14.1")


def test_an_unresolvable_install_is_reported_in_one_line_naming_the_pins():
    """uv's explanation is reduced to the sentence that names the conflicting pins."""
    line = companions.conflict_line(UV_CONFLICT)
    assert line.startswith("Because torchvision==0.20.1 depends on torch==2.5.1")
    assert "\n" not in line
    pip = "ERROR: Cannot install torch==2.0.1 because...\nERROR: ResolutionImpossible: for help"
    assert "ResolutionImpossible" in companions.conflict_line(pip)


def test_order_puts_the_older_release_first_whatever_the_argument_order(capsys):
    """make matrix compares older -> newer, whether the candidate is older or newer."""
    companions.main(["order", "2.15.0", "2.14.1"])
    companions.main(["order", "2.9.1", "2.14.1"])
    companions.main(["order", "2.10.0", "2.9.1"])
    printed = capsys.readouterr().out.split("\n")[:3]
    assert printed == ["2.14.1 2.15.0", "2.9.1 2.14.1", "2.9.1 2.10.0"]


def write_release(folder, torch, drift_outcome="passed", chapter_outcome="passed", run=True):
    (folder / f"session-torch{torch}.json").write_text(
        json.dumps({"torch": torch, "install_s": 30.0, "test_s": 90.0, "disk_bytes": 6 * 2**30})
    )
    (folder / f"companions-torch{torch}.txt").write_text(f"torch=={torch}\nnumpy==1.26.4\n")
    if not run:
        return
    drift = f"{atlas.DRIFT_TEST}[clamp(min=0) passes no gradient at exactly 0]"
    tests = {
        drift: {"chapter": "G05 Drift", "outcome": drift_outcome, "reason": ""},
        "spec/note/01_tensors.py::test_x": {
            "chapter": "01 Tensors", "outcome": chapter_outcome, "reason": "AssertionError: boom",
        },
    }  # fmt: skip
    (folder / f"run-torch{torch}.json").write_text(
        json.dumps({"schema": report.SCHEMA, "counts": {"passed": 2}, "tests": tests})
    )


def test_the_atlas_page_tables_releases_chapters_and_each_drift_rows_two_sides(tmp_path):
    """A drift row seen old on 2.13.0, new on 2.14.1; a failure listed; a failed install named."""
    write_release(tmp_path, "2.13.0")
    write_release(tmp_path, "2.14.1", chapter_outcome="failed")
    write_release(tmp_path, "2.9.1")
    write_release(tmp_path, "2.0.1", run=False)
    releases = atlas.load(tmp_path)
    assert [r.torch for r in releases] == ["2.0.1", "2.9.1", "2.13.0", "2.14.1"]
    page = atlas.render(releases)
    assert "| 01 Tensors | — | 1 | 1 | **1 ✗** 0 |" in page
    row = "| clamp(min=0) passes no gradient at exactly 0 | 2.14 | torch 2.13.0 | torch 2.14.1 | 3"
    assert row in page
    step = page.split("## Release by release")[1].split("##")[0]
    assert "- **torch 2.13.0 -> 2.14.1**:" in step  # the one step where the row flips
    assert "  - clamp(min=0) passes no gradient at exactly 0 (torch 2.14): d/dx clamp" in step
    assert "2.9.1 -> 2.13.0" not in step
    assert "torch 2.0.1: no run report (the install failed)" in page
    assert "`spec/note/01_tensors.py::test_x` — AssertionError: boom" in page
    assert "at most 6.0 GiB of disk" in page


def test_the_atlas_refuses_a_folder_without_sessions(tmp_path, capsys):
    """No session files: one line saying to run make atlas first."""
    with pytest.raises(SystemExit):
        atlas.main([str(tmp_path)])
    assert "run make atlas first" in capsys.readouterr().err
