"""Compare two run reports and write a Markdown upgrade report.

    python -m spec.tools.compare OLD.json NEW.json [-o upgrade.md] [--speed SPEED.json]
        [--bench OLD_BENCH.json NEW_BENCH.json]

A run report is what ``pytest spec --run-report PATH`` writes. The upgrade report opens
with a one-screen summary, then: the drift rows whose change lies between the two
releases, with what each run observed (the drift chapter records it) and the fix; tests
whose outcome changed, with the reasons of both sides, grouped where many changed for one
reason (and tests only one run has); goldens that moved, against their tolerance and
against float32 rounding of their magnitude; warnings that appeared or went away, grouped
by message, with the library that emitted them and the release that removes the API where
the message says; the training core's speed on both releases, timed side by side
(``--speed``: what ``python -m spec.tools.speed`` writes); and — given two
pytest-benchmark JSON files — their timing ratios.
A missing, unreadable or mismatched file stops with a one-line error (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from spec.helpers.run_report import load_run_report, write_atomically


class ReportError(Exception):
    pass


def load_report(path: str | Path) -> dict:
    data = load_run_report(path, ReportError)
    for key in ("versions", "tests", "goldens"):
        if not isinstance(data.get(key), dict):
            raise ReportError(f"{path}: run report without a {key!r} table")
    return data


def load_benchmarks(path: str | Path) -> dict[str, float]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {b["fullname"]: float(b["stats"]["mean"]) for b in data["benchmarks"]}
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ReportError(
            f"{path}: not a pytest-benchmark JSON file ({e.__class__.__name__})"
        ) from None


def _column_diff(old: list, new: list) -> tuple[float, float]:
    """Max abs and max rel difference of two numeric columns (NaN where shapes differ)."""
    if len(old) != len(new):
        return math.nan, math.nan
    abs_d, rel_d = 0.0, 0.0
    for a, b in zip(old, new, strict=True):
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
            continue
        d = abs(float(a) - float(b))
        abs_d = max(abs_d, d)
        rel_d = max(rel_d, d / abs(float(a)) if float(a) != 0 else (math.inf if d else 0.0))
    return abs_d, rel_d


def _section(title: str, header: list[str], rows: list[list], empty: str) -> list[str]:
    """A '## title (n)' section: a Markdown table of rows, or the `empty` sentence."""
    lines = [f"## {title} ({len(rows)})", ""]
    if not rows:
        return [*lines, empty, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


DRIFT_TEST = "test_the_installed_release_shows_the_behaviour_its_version_predicts"
#: float32 keeps 24 bits: a column that moved by at most this many units in the last place
#: of its magnitude moved by rounding (another summation order), not by a real change.
ROUNDING_ULPS = 16


def behaviour_changes(old: dict, new: dict) -> tuple[list, list]:
    """Drift rows whose change lies between the two runs: ``(seen on both sides, seen on
    one side only)``, each ``(row, what the old run saw, what the new run saw)``, read from
    what the drift chapter recorded (``observed``), not from the table alone."""
    from spec.helpers.drift import DRIFT

    both, one = [], []
    for row in DRIFT:
        seen = []
        for run in (old, new):
            key = next((k for k in run["tests"] if DRIFT_TEST in k and k.endswith(f"[{row.id}]")),
                       None)  # fmt: skip
            test = run["tests"].get(key) or {}
            measured = test.get("measured") or {}
            seen.append((measured.get("observed"), measured.get("release"), test))
        (o_obs, o_rel, o_test), (n_obs, n_rel, n_test) = seen
        if o_obs and n_obs and o_obs != n_obs:
            both.append((row, f"{o_obs} ({o_rel})", f"{n_obs} ({n_rel})"))
        elif (o_obs is None) != (n_obs is None) and _in_range(row, old, new):

            def said(obs, rel, test):
                return f"{obs} ({rel})" if obs else (test.get("reason") or "not run")[:80]

            one.append((row, said(o_obs, o_rel, o_test), said(n_obs, n_rel, n_test)))
    return both, one


def _in_range(row, old: dict, new: dict) -> bool:
    """True where the row's release lies between the two runs' versions of its library."""
    from packaging.version import InvalidVersion, Version

    try:
        a, b = (Version(str(r["versions"].get(row.library, "")).split("+")[0]) for r in (old, new))
    except InvalidVersion:
        return False
    low, high = sorted((a, b))
    return low < Version(row.changed_in) <= high


def removal_of(message: str) -> str:
    """The release a deprecation says removes the API, where it says so."""
    import re

    hit = re.search(r"removed in (?:version |v|release |torch |)?(\d+\.\d+(?:\.\d+)?)", message)
    if hit:
        return hit.group(1)
    return "a future release" if "future" in message.lower() and "remov" in message.lower() else ""


def _grouped_warnings(appeared: set, libraries: dict) -> list[str]:
    by_message: dict[str, list[str]] = {}
    for test, warning in sorted(appeared):
        by_message.setdefault(warning, []).append(test)
    if not by_message:
        return ["None.", ""]
    lines = ["| warning | from | tests | removed in |", "| --- | --- | ---: | --- |"]
    for warning, tests in sorted(by_message.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        text = warning.replace("|", "\\|")[:160]
        lines.append(f"| {text} | {libraries.get(warning, '?')} | {len(tests)} | "
                     f"{removal_of(warning) or '—'} |")  # fmt: skip
    lines.append("")
    for warning, tests in sorted(by_message.items()):
        lines += [f"<details><summary>{len(tests)} test(s): {warning[:80]}</summary>", ""]
        lines += [f"- `{t}`" for t in tests] + ["", "</details>", ""]
    return lines


def _changed_outcomes(changed: list) -> list[str]:
    """Grouped by the transition and its reason: 'N tests passed -> skipped: why'."""
    groups: dict[tuple, list[str]] = {}
    for test, a, b, why_old, why_new in changed:
        groups.setdefault((a, b, why_old, why_new), []).append(test)
    lines = [f"## Tests whose outcome changed ({len(changed)})", ""]
    if not changed:
        return [*lines, "None.", ""]
    for (a, b, why_old, why_new), tests in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        why = (
            "; ".join(
                f"{side}: {text[:200]}"
                for side, text in (("old", why_old), ("new", why_new))
                if text
            )
            or "no reason recorded on either side"
        )
        if len(tests) == 1:
            lines.append(f"- `{tests[0]}`: {a} -> {b} ({why})")
        else:
            lines += [f"- **{len(tests)} tests** {a} -> {b} ({why})",
                      "  <details><summary>the tests</summary>", ""]  # fmt: skip
            lines += [f"  - `{t}`" for t in tests] + ["", "  </details>"]
    return [*lines, ""]


def _moved_goldens(old: dict, new: dict) -> list[tuple]:
    """(golden, column, max abs, max rel, float32 rounding of the magnitude, tolerance,
    reads as) for every column that moved."""
    og, ng = old["goldens"], new["goldens"]
    tolerances = {**old.get("golden_tolerances", {}), **new.get("golden_tolerances", {})}
    moved = []
    for name in sorted(set(og) & set(ng)):
        for column in sorted(set(og[name]) & set(ng[name])):
            a, r = _column_diff(og[name][column], ng[name][column])
            if a == 0 and not math.isnan(a):
                continue
            values = [abs(float(v)) for v in og[name][column] if v is not None]
            magnitude = max((v for v in values if not math.isnan(v)), default=0.0)
            rounding = ROUNDING_ULPS * magnitude * 2.0**-23
            tol = tolerances.get(name)
            within = tol is not None and a <= tol["atol"] + tol["rtol"] * magnitude
            reads = ("shape changed" if math.isnan(a) else
                     "float32 rounding" if a <= rounding else "a real change")  # fmt: skip
            tol_text = (
                "—"
                if tol is None
                else (
                    f"atol {tol['atol']:g} rtol {tol['rtol']:g}: {'within' if within else 'beyond'}"
                )
            )
            moved.append((name, column, a, r, rounding, tol_text, reads))
    return moved


def oriented(speed: dict, old_torch: str, new_torch: str) -> dict:
    """The speed file with its sides as the runs have them (it may have timed new first)."""
    if speed["old"]["torch"] == new_torch != old_torch and speed["new"]["torch"] == old_torch:
        return {**speed, "old": speed["new"], "new": speed["old"]}
    return speed


def _speed_lines(speed: dict) -> tuple[str, list[str]]:
    """(the summary's phrase, the section) for a speed file."""
    from spec.tools.speed import summary

    read = summary(speed)
    phrase = ", ".join(f"{v['ratio']:.2f}x at batch {b}" for b, v in read.items())
    verdicts = {v["reads"] for v in read.values()}
    phrase += f" ({'; '.join(sorted(verdicts))})"
    rounds = len(speed["old"]["rounds"])
    lines = [
        "## Speed of the training core",
        "",
        f"The note's CIFAR-10 step (zero_grad, forward, loss, backward, SGD step), CPU, "
        f"{speed.get('threads', 1)} thread, {rounds} rounds of each release alternating in one "
        f"run; per round the best of three stretches of {speed.get('steps', '?')} steps. "
        "A range that contains 1.00 is noise.",
        "",
        "| batch | old ms/step | new ms/step | new / old (median) | range over rounds | reads |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for batch, v in read.items():
        old_ms = 1e3 * min(r["seconds_per_step"][batch] for r in speed["old"]["rounds"])
        new_ms = 1e3 * min(r["seconds_per_step"][batch] for r in speed["new"]["rounds"])
        lines.append(f"| {batch} | {old_ms:.3f} | {new_ms:.3f} | {v['ratio']:.2f}x | "
                     f"{v['low']:.2f}-{v['high']:.2f} | {v['reads']} |")  # fmt: skip
    return phrase, [*lines, ""]


def compare(
    old: dict, new: dict, bench: tuple[dict, dict] | None = None, speed: dict | None = None
) -> str:
    ov, nv = old["versions"], new["versions"]
    ot, nt = old["tests"], new["tests"]
    changed = [
        (k, ot[k]["outcome"], nt[k]["outcome"], ot[k].get("reason", ""), nt[k].get("reason", ""))
        for k in sorted(set(ot) & set(nt))
        if ot[k]["outcome"] != nt[k]["outcome"]
    ]
    new_failures = [c for c in changed if c[2] in ("failed", "error")]
    both, one_side = behaviour_changes(old, new)
    moved = _moved_goldens(old, new)

    def warnings_of(tests):
        return {(k, w) for k, t in tests.items() for w in t.get("warnings", [])}

    ow, nw = warnings_of(ot), warnings_of(nt)
    appeared = nw - ow
    families = {w for _, w in appeared}
    deprecations = {w for w in families if "Deprecat" in w or "FutureWarning" in w}
    ratio = _core_ratio(bench)

    torch_old, torch_new = ov.get("torch", "?"), nv.get("torch", "?")
    speed_phrase, speed_section = "", []
    if speed is not None:
        speed_phrase, speed_section = _speed_lines(oriented(speed, torch_old, torch_new))
    rounding = sum(m[6] == "float32 rounding" for m in moved)
    summary = (
        f"**torch {torch_old} -> {torch_new}: {len(both)} behaviour change(s) that touch the "
        f"note's code"
        + (f" ({'; '.join(r.id for r, _, _ in both)})" if both else "")
        + f", {len(new_failures)} new failure(s), {len(changed)} test(s) changed outcome, "
        f"goldens: {len(moved)} column(s) moved ({rounding} within float32 rounding, "
        f"{len(moved) - rounding} beyond), {len(families)} new warning famil"
        f"{'y' if len(families) == 1 else 'ies'} ({len(deprecations)} deprecation(s))"
        + (f", training core: {speed_phrase}" if speed_phrase else "")
        + (f", benchmarks: {ratio} the time" if ratio else "")
        + "**"
    )
    lines = ["# Upgrade report", "", summary, ""]
    lines += _implementation_lines(old, new)
    if one_side:
        lines += [f"{len(one_side)} more change(s) in range seen on one side only (below).", ""]
    lines += ["| library | old | new |", "| --- | --- | --- |"]
    for name in sorted(set(ov) | set(nv)):
        mark = "" if ov.get(name) == nv.get(name) else " **changed**"
        lines.append(f"| {name} | {ov.get(name, '—')} | {nv.get(name, '—')}{mark} |")
    lines.append("")

    lines += [f"## Behaviour that changed between the two releases ({len(both)})", ""]
    if both or one_side:
        lines += ["| change | changed in | old run saw | new run saw | what it means; the fix |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for row, a, b in both + one_side:
            lines.append(f"| {row.id} | {row.library} {row.changed_in} | {a} | {b} | "
                         f"{row.now.replace('|', '/')} |")  # fmt: skip
        if one_side:
            lines += ["", f"Seen on one side only: {', '.join(r.id for r, _, _ in one_side)}."]
    else:
        lines.append("None: no drift row changes between these releases.")
    lines.append("")

    lines += speed_section
    lines += _changed_outcomes(changed)
    only_old, only_new = sorted(set(ot) - set(nt)), sorted(set(nt) - set(ot))
    lines += [f"## Tests in one run only (old: {len(only_old)}, new: {len(only_new)})", ""]
    lines += [f"- only old: `{k}`" for k in only_old] + [f"- only new: `{k}`" for k in only_new]
    lines += ["None." if not (only_old or only_new) else "", ""]

    lines += _section(
        "Goldens that moved",
        ["golden", "column", "max abs diff", "max rel diff", "float32 rounding", "tolerance",
         "reads as"],
        [[n, c, f"{a:.3g}", f"{r:.3g}", f"{f:.3g}", t, reads] for n, c, a, r, f, t, reads in moved],
        "None: every golden both runs recorded is identical.",
    )  # fmt: skip

    libraries = {**old.get("warning_libraries", {}), **new.get("warning_libraries", {})}
    lines += [f"## Warnings that appeared ({len(families)} kinds, {len(appeared)} tests)", ""]
    lines += _grouped_warnings(appeared, libraries)
    gone = ow - nw
    lines += [f"## Warnings that went away ({len({w for _, w in gone})} kinds)", ""]
    lines += _grouped_warnings(gone, libraries)

    if bench is not None:
        ob, nb = bench
        common = sorted(set(ob) & set(nb))
        lines += ["## Benchmarks (mean time, new / old)", ""]
        lines += ["| benchmark | old | new | ratio |", "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {ob[k]:.4g} s | {nb[k]:.4g} s | {nb[k] / ob[k]:.2f} |" for k in common]
        lines.append("")
    return "\n".join(lines)


def _implementation_lines(old: dict, new: dict) -> list[str]:
    """Which implementation each run graded: its package, folder and commit."""

    def named(run):
        who = run.get("implementation") or {}
        if not who:
            return "not recorded"
        name = "reference" if who.get("is_reference") else who.get("package", "?")
        commit = who.get("commit")
        return f"{name} ({who.get('folder', '?')}" + (f", git {commit[:12]})" if commit
                                                       else ", not in git)")  # fmt: skip

    a, b = named(old), named(new)
    if a == b:
        return [f"Implementation under test: {a}.", ""]
    return [f"Implementation under test: old run {a}; new run {b}."
            + (" **Not the same code on both sides**: a change below may be the code's, "
               "not the release's." if "not recorded" not in (a, b) else ""), ""]  # fmt: skip


def _core_ratio(bench) -> str:
    """The geometric mean of new/old over the benchmarks both runs timed ('0.97x')."""
    if not bench:
        return ""
    ob, nb = bench
    common = [k for k in ob if k in nb and ob[k] > 0 and nb[k] > 0]
    if not common:
        return ""
    mean = math.exp(sum(math.log(nb[k] / ob[k]) for k in common) / len(common))
    return f"{mean:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.tools.compare")
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("-o", "--output", help="write the Markdown here (default: stdout)")
    parser.add_argument("--bench", nargs=2, metavar=("OLD", "NEW"))
    parser.add_argument("--speed", help="the training core timed on both (spec.tools.speed)")
    args = parser.parse_args(argv)
    from spec.tools.speed import SpeedError
    from spec.tools.speed import load as load_speed

    try:
        old, new = load_report(args.old), load_report(args.new)
        bench = tuple(load_benchmarks(p) for p in args.bench) if args.bench else None
        speed = load_speed(args.speed) if args.speed else None
    except (ReportError, SpeedError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    text = compare(old, new, bench, speed)
    if args.output:
        out = write_atomically(args.output, text + "\n")
        print(f"wrote {out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
