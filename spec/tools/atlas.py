"""The atlas: the spec on every supported torch release, from the nox sessions' reports.

    make atlas        # runs .ci/noxfile.py (every release), then this
    python -m spec.tools.atlas reports/atlas -o spec/atlas.md

Reads, per release, ``session-torchX.json`` (companions, seconds, disk),
``companions-torchX.txt`` (what was installed) and ``run-torchX.json`` (the run report),
and writes one Markdown page: the releases and their companion sets; a chapter x release
table of outcomes; per drift row the last release seen with the old behaviour and the
first seen with the new, and release by release what changed; and every failure, so
that where the spec does not hold the atlas shows why.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from spec.helpers.run_report import load_run_report

DRIFT_TEST = (
    "spec/guarantees/05_drift.py::"
    "test_the_installed_release_shows_the_behaviour_its_version_predicts"
)
#: Import names of the drift table's libraries -> their distribution names.
DISTRIBUTIONS = {"pytorch_lightning": "pytorch-lightning"}
SHOWN = ("torchvision", "numpy", "pytorch-lightning", "torchmetrics", "pandas", "pytest")


@dataclass
class Release:
    torch: str
    session: dict
    installed: dict[str, str] = field(default_factory=dict)
    run: dict | None = None

    @property
    def version(self) -> Version:
        return Version(self.torch)

    def chapters(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for test in (self.run or {}).get("tests", {}).values():
            counts = out.setdefault(test["chapter"], {})
            counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
        return out

    def failures(self) -> list[tuple[str, str]]:
        tests = (self.run or {}).get("tests", {})
        return [
            (nodeid, test.get("reason", ""))
            for nodeid, test in tests.items()
            if test["outcome"] in ("failed", "error", "xpassed")
        ]


def read_freeze(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def load(folder: Path) -> list[Release]:
    releases = []
    for path in folder.glob("session-torch*.json"):
        torch = path.stem.removeprefix("session-torch")
        release = Release(torch, json.loads(path.read_text(encoding="utf-8")))
        freeze = folder / f"companions-torch{torch}.txt"
        if freeze.exists():
            release.installed = read_freeze(freeze.read_text(encoding="utf-8"))
        run = folder / f"run-torch{torch}.json"
        if run.exists():
            release.run = load_run_report(run)
        releases.append(release)
    return sorted(releases, key=lambda r: r.version)


def chapter_order(name: str) -> tuple[int, str]:
    """Note chapters first (01..), then the guarantees (G01..), then the rest."""
    if re.match(r"\d\d ", name):
        return (0, name)
    if re.match(r"G\d\d ", name):
        return (1, name)
    return (2, name)


def cell(counts: dict[str, int] | None) -> str:
    if not counts:
        return "—"
    bad = counts.get("failed", 0) + counts.get("error", 0) + counts.get("xpassed", 0)
    good = counts.get("passed", 0) + counts.get("xfailed", 0)
    skipped = counts.get("skipped", 0)
    text = f"{good}" + (f" +{skipped}s" if skipped else "")
    return f"**{bad} ✗** {text}" if bad else text


def drift_observations(releases: list[Release]) -> list[dict]:
    """Per drift row: the releases where its check passed on the old side and on the new
    side (its library's version below or from ``changed_in``)."""
    from spec.helpers.drift import DRIFT

    rows = []
    for row in DRIFT:
        dist = DISTRIBUTIONS.get(row.library, row.library)
        old, new, skipped = [], [], []
        for release in releases:
            test = (release.run or {}).get("tests", {}).get(f"{DRIFT_TEST}[{row.id}]")
            version = release.installed.get(dist) or (release.torch if dist == "torch" else None)
            if test is None or version is None:
                continue
            if test["outcome"] != "passed":
                skipped.append(release.torch)
                continue
            side = new if Version(version.split("+")[0]) >= Version(row.changed_in) else old
            side.append(release.torch)
        rows.append({"id": row.id, "library": row.library, "changed_in": row.changed_in,
                     "old": old, "new": new, "not_seen": skipped})  # fmt: skip
    return rows


def release_by_release(releases: list[Release]) -> list[str]:
    """For each step from one release to the next that has a run, the drift rows seen on
    the old side in the first and on the new side in the second: what moving one release
    up changes for code like the note's (the upgrade report's view, for every step)."""
    from spec.helpers.drift import BY_ID

    ran = [r.torch for r in releases if r.run]
    observed = drift_observations(releases)
    lines = []
    for a, b in itertools.pairwise(ran):
        rows = [row for row in observed if a in row["old"] and b in row["new"]]
        if rows:
            lines.append(f"- **torch {a} -> {b}**:")
            lines += [f"  - {row['id']} ({row['library']} {row['changed_in']}): "
                      f"{BY_ID[row['id']].now}" for row in rows]  # fmt: skip
    return lines


def machine() -> str:
    """'x86_64, 2 cores, Python 3.11.7': where the atlas ran (the sessions run here)."""
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def render(releases: list[Release], where: str = "", when: str = "") -> str:
    lines = ["# Atlas — the spec on every supported torch release", ""]
    if where or when:
        lines += [f"Run on {where or machine()}, CPU only, {when}.".replace(", .", "."), ""]
    total_s = sum(r.session.get("install_s", 0) + r.session.get("test_s", 0) for r in releases)
    disk = max((r.session.get("disk_bytes", 0) for r in releases), default=0)
    lines += [
        f"{len(releases)} releases, each in a fresh venv (uv) with its companions chosen by "
        "rule (.ci/noxfile.py), the whole spec run with 2 workers, the venv deleted after. "
        f"All of it took {total_s / 60:.0f} min of install and test time; one release's venv "
        f"and download cache took at most {disk / 2**30:.1f} GiB of disk.",
        "",
        "## Releases and companion sets",
        "",
        "| torch | " + " | ".join(SHOWN) + " | install s | test s | passed | failed | skipped |",
        "|---|" + "---|" * (len(SHOWN) + 5),
    ]
    for r in releases:
        counts = (r.run or {}).get("counts", {})
        bad = counts.get("failed", 0) + counts.get("error", 0)
        versions = " | ".join(r.installed.get(name, "—") for name in SHOWN)
        install = r.session.get("install_s", "—")
        if r.run:
            lines.append(
                f"| {r.torch} | {versions} | {install} | {r.session.get('test_s', '—')} "
                f"| {counts.get('passed', 0)} | {bad} | {counts.get('skipped', 0)} |"
            )
        else:
            lines.append(f"| {r.torch} | {versions} | {install} | — | no run | — | — |")
    chapters = sorted({c for r in releases for c in r.chapters()}, key=chapter_order)
    lines += [
        "",
        "## Chapters by release",
        "",
        "Tests passed (and expected failures), `+Ns` skipped, **N ✗** failed or errored; "
        "`0 +1s`: the whole chapter skipped, naming the library it needs (in the release's "
        "run report).",
        "",
        "| chapter | " + " | ".join(r.torch for r in releases) + " |",
        "|---|" + "---|" * len(releases),
    ]
    for chapter in chapters:
        lines.append(
            f"| {chapter} | " + " | ".join(cell(r.chapters().get(chapter)) for r in releases) + " |"
        )
    lines += [
        "",
        "## Drift rows, seen on both sides",
        "",
        "Each row of spec/helpers/drift.py checked on every release: the last release that "
        "showed the old behaviour and the first that showed the new (— where no installable "
        "release is on that side).",
        "",
        "| drift row | changed in | last seen old | first seen new | releases checked |",
        "|---|---|---|---|---|",
    ]
    for row in drift_observations(releases):
        last_old = f"torch {row['old'][-1]}" if row["old"] else "—"
        first_new = f"torch {row['new'][0]}" if row["new"] else "—"
        lib = "" if row["library"] == "torch" else f"{row['library']} "
        seen = len(row["old"]) + len(row["new"])
        lines.append(
            f"| {row['id']} | {lib}{row['changed_in']} | {last_old} | {first_new} | {seen} |"
        )
    lines += ["", "## Release by release: behaviour that changed", ""]
    lines += release_by_release(releases) or ["No drift row changes between two releases seen."]
    lines += ["", "## Where the spec does not hold", ""]
    for r in releases:
        failures = r.failures()
        if not r.run:
            lines.append(f"- torch {r.torch}: no run report (the install failed).")
        elif failures:
            lines.append(f"- torch {r.torch}: {len(failures)} failed")
            for nodeid, reason in failures[:12]:
                lines.append(f"  - `{nodeid}` — {reason[:160]}")
            if len(failures) > 12:
                lines.append(f"  - ... and {len(failures) - 12} more (run-torch{r.torch}.json)")
    if all(r.run and not r.failures() for r in releases):
        lines.append("Nowhere: every release passes.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.tools.atlas")
    parser.add_argument("folder", type=Path, help="reports/atlas: the nox sessions' files")
    parser.add_argument("-o", "--output", type=Path, default=Path("spec/atlas.md"))
    args = parser.parse_args(argv)
    folder = args.folder
    releases = load(folder)
    if not releases:
        parser.error(f"{args.folder}: no session-torch*.json in it (run make atlas first)")
    newest = max((folder / f"session-torch{r.torch}.json").stat().st_mtime for r in releases)
    when = datetime.datetime.fromtimestamp(newest, datetime.UTC).date().isoformat()
    args.output.write_text(render(releases, machine(), when), encoding="utf-8")
    print(f"wrote {args.output} ({len(releases)} releases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
