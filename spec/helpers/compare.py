"""Compare two run reports and write a Markdown upgrade report.

    python -m spec.helpers.compare OLD.json NEW.json [-o upgrade.md]
        [--bench OLD_BENCH.json NEW_BENCH.json]

A run report is what ``pytest spec --run-report PATH`` writes. The upgrade report
lists: tests whose outcome changed (and tests only one run has), goldens that moved
(max abs / max rel difference per column), deprecation and future warnings that
appeared or went away, and — given two pytest-benchmark JSON files — timing ratios.
A missing, unreadable or mismatched file stops with a one-line error (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from spec.helpers.report import SCHEMA


class ReportError(Exception):
    pass


def load_report(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: not a JSON run report ({e.__class__.__name__}: {e})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ReportError(f"{path}: not a run report of schema {SCHEMA!r} (found {found!r})")
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


def compare(old: dict, new: dict, bench: tuple[dict, dict] | None = None) -> str:
    lines = ["# Upgrade report", ""]
    ov, nv = old["versions"], new["versions"]
    lines += ["| library | old | new |", "| --- | --- | --- |"]
    for name in sorted(set(ov) | set(nv)):
        mark = "" if ov.get(name) == nv.get(name) else " **changed**"
        lines.append(f"| {name} | {ov.get(name, '—')} | {nv.get(name, '—')}{mark} |")
    lines.append("")

    ot, nt = old["tests"], new["tests"]
    changed = [
        (k, ot[k]["outcome"], nt[k]["outcome"], nt[k].get("reason", ""))
        for k in sorted(set(ot) & set(nt))
        if ot[k]["outcome"] != nt[k]["outcome"]
    ]
    lines += _section(
        "Tests whose outcome changed",
        ["test", "old", "new", "why (new run)"],
        [[f"`{k}`", a, b, r[:160]] for k, a, b, r in changed],
        "None.",
    )
    only_old, only_new = sorted(set(ot) - set(nt)), sorted(set(nt) - set(ot))
    lines += [f"## Tests in one run only (old: {len(only_old)}, new: {len(only_new)})", ""]
    lines += [f"- only old: `{k}`" for k in only_old] + [f"- only new: `{k}`" for k in only_new]
    lines += ["None." if not (only_old or only_new) else "", ""]

    og, ng = old["goldens"], new["goldens"]
    moved = []
    for name in sorted(set(og) & set(ng)):
        for column in sorted(set(og[name]) & set(ng[name])):
            a, r = _column_diff(og[name][column], ng[name][column])
            if a != 0 or math.isnan(a):
                moved.append((name, column, a, r))
    lines += _section(
        "Goldens that moved",
        ["golden", "column", "max abs diff", "max rel diff"],
        [[n, c, f"{a:.3g}", f"{r:.3g}"] for n, c, a, r in moved],
        "None: every golden both runs recorded is identical.",
    )

    def warnings_of(tests):
        return {(k, w) for k, t in tests.items() for w in t.get("warnings", [])}

    ow, nw = warnings_of(ot), warnings_of(nt)
    lines += [f"## Warnings that appeared ({len(nw - ow)})", ""]
    lines += [f"- `{k}`: {w}" for k, w in sorted(nw - ow)] or ["None."]
    lines += ["", f"## Warnings that went away ({len(ow - nw)})", ""]
    lines += [f"- `{k}`: {w}" for k, w in sorted(ow - nw)] or ["None."]
    lines.append("")

    if bench is not None:
        ob, nb = bench
        common = sorted(set(ob) & set(nb))
        lines += ["## Benchmarks (mean time, new / old)", ""]
        lines += ["| benchmark | old | new | ratio |", "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {ob[k]:.4g} s | {nb[k]:.4g} s | {nb[k] / ob[k]:.2f} |" for k in common]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.helpers.compare")
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("-o", "--output", help="write the Markdown here (default: stdout)")
    parser.add_argument("--bench", nargs=2, metavar=("OLD", "NEW"))
    args = parser.parse_args(argv)
    try:
        old, new = load_report(args.old), load_report(args.new)
        bench = tuple(load_benchmarks(p) for p in args.bench) if args.bench else None
    except ReportError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    text = compare(old, new, bench)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
