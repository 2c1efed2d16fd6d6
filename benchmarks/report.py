"""Print the CPU-vs-GPU table from a pytest-benchmark JSON file and draw the chart.

    python -m benchmarks.report reports/bench.json [MORE.json ...] \
        [--png reports/bench.png] [--md reports/bench.md]

Several files (e.g. one pytest run per group of cases) make one table. Columns: core,
variant, device, threads, batch, images (or samples)/s, us/step, seconds per CIFAR-10
epoch (50,000 images), speed-up against the note's plain loop on the CPU (cifar_net
batch 4, eager, 1 thread — for the MLP, its own eager CPU 1-thread case) measured in
the same files, and % of floor (achieved GFLOP/s over the same device's measured matmul GFLOP/s in
the variant's precision: float32, or bfloat16 for bf16 variants).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BASELINES = {"cifar": ("cifar4", "eager", "cpu", 1), "mlp": ("mlp", "eager", "cpu", 1)}


def rows_from(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "items_per_s" not in info:
            continue
        rows.append({**info, "name": bench["name"]})
    return rows


def baseline_of(row: dict, rows: list[dict]) -> float | None:
    key = BASELINES["mlp" if row["core"] == "mlp" else "cifar"]
    for r in rows:
        if (r["core"], r["variant"], r["device"], r["threads"]) == key:
            return r["items_per_s"]
    return None


def epoch(row: dict) -> str:
    seconds = row.get("s_per_epoch")
    return "" if seconds is None else f"{seconds:,.2f}"


def table(rows: list[dict]) -> str:
    head = [
        "core",
        "variant",
        "device",
        "threads",
        "batch",
        "items/s",
        "us/step",
        "s/epoch",
        "speed-up",
        "% of floor",
        "setup s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        base = baseline_of(r, rows)
        speedup = f"{r['items_per_s'] / base:.2f}x" if base else "n/a"
        lines.append(
            f"| {r['core']} | {r['variant']} | {r['device']} | {r['threads']} | {r['batch']} "
            f"| {r['items_per_s']:,.0f} | {r['us_per_step']:,.1f} | {epoch(r)} | {speedup} "
            f"| {r['pct_of_floor']:.2f} | {r['setup_s']:.2f} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [f"{r['core']} {r['variant']} {r['device']} {r['threads']}thr" for r in rows]
    colors = ["tab:blue" if r["device"] == "cpu" else "tab:green" for r in rows]
    ax.barh(labels, [r["items_per_s"] for r in rows], color=colors)
    ax.set_xscale("log")
    ax.set_xlabel("images (or samples) per second, log scale — blue CPU, green GPU")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument("json", type=Path, nargs="+")
    parser.add_argument("--png", type=Path)
    parser.add_argument("--md", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for path in args.json:
        try:
            rows += rows_from(path)
        except (OSError, ValueError, KeyError) as e:
            print(
                f"{parser.prog}: error: {path}: not a readable pytest-benchmark file ({e})",
                file=sys.stderr,
            )
            return 2
    if not rows:
        names = ", ".join(str(p) for p in args.json)
        print(f"{parser.prog}: error: {names}: no timed benchmarks in it", file=sys.stderr)
        return 2
    text = table(rows)
    print(text)
    if args.md:
        args.md.write_text(text + "\n", encoding="utf-8")
    if args.png and chart(rows, args.png):
        print(f"chart: {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
