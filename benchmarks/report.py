"""Print the CPU-vs-GPU table from a pytest-benchmark JSON file and draw the chart.

    python -m benchmarks.report reports/bench.json [MORE.json ...] \
        [--png reports/bench.png] [--md reports/bench.md]

Several files (e.g. one pytest run per group of cases) make one table. Columns: core,
variant, device, threads, batch, images (or samples)/s, us/step, seconds per CIFAR-10
epoch (50,000 images), speed-up against the note's plain loop on the CPU (cifar_net
batch 4, eager, 1 thread — for the MLP, its own eager CPU 1-thread case) measured in
the same files, and % of floor (achieved GFLOP/s over the same device's measured matmul GFLOP/s in
the variant's precision: float32, or bfloat16 for bf16 variants). Under the table, the
verdicts: the best GPU epoch at the note's batch and the best GPU rate at large batch
against the targets, and which CPU thread count wins each case timed at several
(a winner is called only where its timed rounds beat the runner-up's: Mann-Whitney, p <
0.05 — with 5 rounds each, faster in at least 21 of the 25 pairs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BASELINES = {"cifar": ("cifar4", "eager", "cpu", 1), "mlp": ("mlp", "eager", "cpu", 1)}
#: The targets for an H100/H200-class GPU: the note's semantics (batch 4, one
#: 50,000-image epoch) and the CIFAR Net at large batch (512 and up).
EPOCH_TARGET_S = 1.0
LARGE_BATCH_TARGET_IMG_S = 3_000_000
#: The CPU's own targets, ratios measured in one run: the note's step on one core in
#: <= 500 us and >= 4x both the eager step and PyTorch's best variant; at batch 512 and
#: up, >= 3x PyTorch's best rate.
CPU_STEP_TARGET_US = 500.0
CPU_STEP_TARGET_RATIO = 4.0
CPU_LARGE_TARGET_RATIO = 3.0
#: The CPU variants that are not PyTorch's (the hand-written step).
HAND_WRITTEN_CPU = ("cpu_fused",)


def rows_from(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "items_per_s" not in info:
            continue
        row = {**info, "name": bench["name"]}
        rounds = bench.get("stats", {}).get("data")
        if rounds and info.get("steps_per_round"):
            # each timed round's seconds per step: the spread behind the median
            row["round_s_per_step"] = [t / info["steps_per_round"] for t in rounds]
        rows.append(row)
    return rows


def who_wins(win: dict, other: dict) -> tuple[str, str]:
    """("clear" or "unsure", the evidence): how sure the table is that `win` (the higher
    median rate) is faster than `other` — in how many pairs of their timed rounds it was
    faster (the Mann-Whitney U count), and the one-sided exact p-value of that count
    where SciPy is installed. Below p = 0.05 the winner is called clear."""
    a, b = win.get("round_s_per_step"), other.get("round_s_per_step")
    if not a or not b:
        return "clear", "rounds not recorded"
    faster = sum((x < y) + 0.5 * (x == y) for x in a for y in b)
    said = f"faster in {faster:g} of {len(a) * len(b)} pairs of rounds"
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return "clear" if faster == len(a) * len(b) else "unsure", said
    p = mannwhitneyu(a, b, alternative="less", method="exact").pvalue
    return ("clear" if p < 0.05 else "unsure"), f"{said}, p = {p:.2g}"


def baseline_of(row: dict, rows: list[dict]) -> float | None:
    key = BASELINES["mlp" if row["core"] == "mlp" else "cifar"]
    for r in rows:
        if (r["core"], r["variant"], r["device"], r["threads"]) == key:
            return r["items_per_s"]
    return None


def size_class(row: dict) -> str:
    """Which rows a speed-up compares: the note's batch of 4, a large CIFAR batch, the MLP."""
    if row["core"] == "mlp":
        return "mlp"
    return "note" if row["batch"] <= 4 else "large"


def cpu_best(row: dict, rows: list[dict]) -> float | None:
    """The best CPU rate (any variant, any thread count) of ``row``'s size class: what a
    GPU row is set against on the same host, beside the note's eager loop."""
    rates = [r["items_per_s"] for r in rows
             if r["device"] == "cpu" and size_class(r) == size_class(row)]  # fmt: skip
    return max(rates) if rates else None


def floor(row: dict) -> str:
    """% of floor, and which floor: the device's measured matmul in the variant's dtype
    (fp32 FMA units, or bf16 — AMX or tensor cores — for the bf16 variants)."""
    dtype = "bf16" if row.get("matmul_peak_dtype") == "bfloat16" else "fp32"
    return f"{row['pct_of_floor']:.2f} ({dtype})"


def epoch(row: dict) -> str:
    seconds = row.get("s_per_epoch")
    return "" if seconds is None else f"{seconds:,.2f}"


def cores_of(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("family") != "e2e"]


def e2e_of(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("family") == "e2e"]


def e2e_table(rows: list[dict]) -> str:
    """The note's script end to end (benchmarks/e2e.py): per variant and device, the epoch,
    the share of each step spent waiting for data (the data path timed alone over the
    step), the speed-up over the script as written on the same device, and the whole
    script (2 epochs and both test passes) with its one-time costs apart."""
    head = ["variant", "device", "threads", "loader", "us/step", "s/epoch", "data share",
            "vs as written", "test passes s", "script s", "one-time s"]  # fmt: skip
    body = []
    for r in rows:
        base = as_written_of(r, rows)
        speedup = f"{base['s_per_epoch'] / r['s_per_epoch']:.2f}x" if base else "n/a"
        body.append([
            r["variant"], r["device"], r["threads"], r["loader"], f"{r['us_per_step']:,.1f}",
            f"{r['s_per_epoch']:,.2f}", f"{100 * r['data_share']:.0f} %", speedup,
            f"{r['test_passes_s']:,.2f}", f"{r['script_s']:,.2f}", f"{r['one_time_s']:,.2f}",
        ])  # fmt: skip
    return markdown_table(head, body)


def markdown_table(head: list[str], body: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in cells) + " |" for cells in body]
    return "\n".join(lines)


def as_written_of(row: dict, rows: list[dict]) -> dict | None:
    return next(
        (r for r in rows if r["variant"] == "as_written" and r["device"] == row["device"]), None
    )


def step_of(row: dict) -> str:
    """The training step an end-to-end row ran: eager, or a core of benchmarks/cores.py."""
    return row.get("step", "eager")


def e2e_verdicts(rows: list[dict]) -> list[str]:
    """The end-to-end questions: how close the best end-to-end epoch with the core's own
    step comes to the core's (target 1.2x on the CPU: what the data path costs), the
    fastest step end to end where another step is faster, the best whole script on a GPU
    (target 1.5 s), and the GPU-over-CPU ratio as written and each at its best."""
    lines = []
    devices = sorted({r["device"] for r in rows}, key=lambda d: d != "cpu")
    best = {}
    for device in devices:
        mine = [r for r in rows if r["device"] == device]
        ends = [r for r in mine if r["variant"] != "core_only"]
        core = next((r for r in mine if r["variant"] == "core_only"), None)
        best[device] = min(ends, key=lambda r: r["s_per_epoch"]) if ends else None
        # what the data path costs: the ends that run core_only's own step
        same_step = [r for r in ends if core and step_of(r) == step_of(core)]
        data_best = min(same_step, key=lambda r: r["s_per_epoch"]) if same_step else None
        if data_best and core:
            ratio = data_best["s_per_epoch"] / core["s_per_epoch"]
            side = data_best.get("vs_core_only_interleaved")
            judged = side or ratio
            target = " (target <= 1.2x: " + ("met" if judged <= 1.2 else "not met") + ")"
            lines.append(
                f"{device}: best end-to-end epoch {data_best['s_per_epoch']:.2f} s "
                f"({data_best['variant']}) = {ratio:.2f}x the core-only epoch "
                f"{core['s_per_epoch']:.2f} s"
                + (f"; {side:.2f}x in alternating rounds (fastest of each)" if side else "")
                + (target if device == "cpu" else "")
            )
        fastest = best[device]
        if fastest and core and step_of(fastest) != step_of(core):
            lines.append(
                f"{device}: the fastest step end to end: {fastest['variant']} "
                f"{fastest['s_per_epoch']:.2f} s per epoch, "
                f"{core['s_per_epoch'] / fastest['s_per_epoch']:.2f}x the core-only epoch "
                f"of the note's step"
            )
        written = as_written_of(fastest, rows) if fastest else None
        if written:
            lines.append(
                f"{device}: the script as written {written['script_s']:.1f} s "
                f"({100 * written['data_share']:.0f} % of each step waiting for data); "
                f"{fastest['variant']} {fastest['script_s']:.1f} s"
                + (" (target <= 1.5 s: " + ("met" if fastest["script_s"] <= 1.5 else "not met")
                   + ")" if device != "cpu" else "")
            )  # fmt: skip
    cpu = [d for d in devices if d == "cpu"]
    for device in [d for d in devices if d != "cpu"]:
        if not cpu:
            break
        gpu_written = as_written_of(best[device], rows)
        cpu_written = as_written_of(best["cpu"], rows)
        if gpu_written and cpu_written:
            written = cpu_written["s_per_epoch"] / gpu_written["s_per_epoch"]
            optimized = best["cpu"]["s_per_epoch"] / best[device]["s_per_epoch"]
            lines.append(
                f"{device} over cpu: as written {written:.2f}x, optimized {optimized:.2f}x "
                "per epoch"
            )
    return lines


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
        "vs CPU best",
        "% of floor",
        "setup s",
        "semantics",
    ]
    body = []
    for r in rows:
        base, best = baseline_of(r, rows), cpu_best(r, rows)
        speedup = f"{r['items_per_s'] / base:.2f}x" if base else "n/a"
        against_best = f"{r['items_per_s'] / best:.2f}x" if best else "n/a"
        body.append([
            r["core"], r["variant"], r["device"], r["threads"], r["batch"],
            f"{r['items_per_s']:,.0f}", f"{r['us_per_step']:,.1f}", epoch(r), speedup,
            against_best, floor(r), f"{r['setup_s']:.2f}", semantics(r),
        ])  # fmt: skip
    return markdown_table(head, body)


def semantics(row: dict) -> str:
    """Whether a row computes the note's step: its Net at batch 4 in float32. Otherwise
    what differs, "other batch" and/or "other precision" (a bf16 variant); the MLP core
    is not the note's CIFAR step at all."""
    if not row["core"].startswith("cifar"):
        return "not the note's step"
    other = [label for label, differs in (
        ("other batch", row["batch"] != 4),
        ("other precision", row.get("matmul_peak_dtype") == "bfloat16"),
    ) if differs]  # fmt: skip
    return ", ".join(other) or "the note's"


def verdicts(rows: list[dict]) -> list[str]:
    """One line per question the table answers: the best GPU epoch at the note's batch
    and the best GPU rate at large batch, each against its target; and for each CPU
    case timed at several thread counts, which count wins."""
    lines = []
    gpu = [r for r in rows if r["device"] != "cpu"]
    note = [r for r in gpu if r["core"] == "cifar4" and r.get("s_per_epoch")]
    if note:
        best = min(note, key=lambda r: r["s_per_epoch"])
        met = "met" if best["s_per_epoch"] <= EPOCH_TARGET_S else "not met"
        lines.append(
            f"note semantics (batch 4) on {best['device']}: best {best['s_per_epoch']:.2f} s "
            f"per epoch ({best['variant']}); target <= {EPOCH_TARGET_S:.1f} s: {met}"
        )
    large = [r for r in gpu if r["core"].startswith("cifar") and r["batch"] >= 512]
    if large:
        best = max(large, key=lambda r: r["items_per_s"])
        met = "met" if best["items_per_s"] >= LARGE_BATCH_TARGET_IMG_S else "not met"
        lines.append(
            f"large batch on {best['device']}: best {best['items_per_s'] / 1e6:.2f}M img/s "
            f"({best['variant']}, batch {best['batch']}); target >= "
            f"{LARGE_BATCH_TARGET_IMG_S / 1e6:.0f}M img/s: {met}"
        )
    lines += cpu_verdicts(rows)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["device"] == "cpu":
            groups.setdefault((r["core"], r["variant"], r["batch"]), []).append(r)
    for (core, variant, batch), group in groups.items():
        if len({r["threads"] for r in group}) < 2:
            continue
        ranked = sorted(group, key=lambda r: r["items_per_s"], reverse=True)
        win, runner_up = ranked[0], ranked[1]
        verdict, evidence = who_wins(win, runner_up)
        ratio = win["items_per_s"] / runner_up["items_per_s"]
        if verdict == "clear":
            head = f"{win['threads']} thread(s) win: {ratio:.2f}x"
        else:
            head = f"no clear winner: {win['threads']} thread(s) {ratio:.2f}x"
        lines.append(
            f"cpu {core} {variant} batch {batch}: {head} the median rate of "
            f"{runner_up['threads']} ({evidence})"
        )
    return lines


def hand_written_cpu(row: dict) -> bool:
    """The hand-written C step, in any of its options (``cpu_fused``, ``cpu_fused+bf16``)."""
    return row["variant"].split("+")[0] in HAND_WRITTEN_CPU


def cpu_verdicts(rows: list[dict]) -> list[str]:
    """The CPU at its best against its targets: the hand-written step against the eager
    loop and PyTorch's best variant at the note's batch (one thread), and the best rate at
    large batch against PyTorch's best there; which ISA the machine offered, and what each
    variant ran on it."""
    cpu = [r for r in rows if r["device"] == "cpu" and r["core"].startswith("cifar")]
    lines = []
    # the note's semantics: batch 4, one thread, float32 (a bf16 variant is another precision)
    note = [r for r in cpu if size_class(r) == "note" and r["threads"] == 1
            and r.get("matmul_peak_dtype") != "bfloat16"]  # fmt: skip
    eager = next((r for r in note if r["variant"] == "eager"), None)
    ours = [r for r in note if hand_written_cpu(r)]
    theirs = [r for r in note if not hand_written_cpu(r)]
    if eager and ours and theirs:
        best, rival = min(ours, key=lambda r: r["us_per_step"]), max(
            theirs, key=lambda r: r["items_per_s"])  # fmt: skip
        x_eager = best["items_per_s"] / eager["items_per_s"]
        x_rival = best["items_per_s"] / rival["items_per_s"]
        met = (best["us_per_step"] <= CPU_STEP_TARGET_US and x_eager >= CPU_STEP_TARGET_RATIO
               and x_rival >= CPU_STEP_TARGET_RATIO)  # fmt: skip
        lines.append(
            f"cpu note semantics (batch 4, 1 thread): {best['variant']} "
            f"{best['us_per_step']:,.0f} us/step, {x_eager:.2f}x eager, {x_rival:.2f}x "
            f"PyTorch's best ({rival['variant']}); target <= {CPU_STEP_TARGET_US:.0f} us and "
            f">= {CPU_STEP_TARGET_RATIO:.0f}x both: {'met' if met else 'not met'}"
        )
    large = [r for r in cpu if size_class(r) == "large"]
    ours = [r for r in large if hand_written_cpu(r)]
    theirs = [r for r in large if not hand_written_cpu(r)]
    if ours and theirs:
        best = max(ours, key=lambda r: r["items_per_s"])
        rival = max(theirs, key=lambda r: r["items_per_s"])
        ratio = best["items_per_s"] / rival["items_per_s"]
        met = "met" if ratio >= CPU_LARGE_TARGET_RATIO else "not met"
        precision = " (bf16 products)" if best.get("matmul_peak_dtype") == "bfloat16" else ""
        lines.append(
            f"cpu large batch: {best['variant']}{precision} {best['items_per_s']:,.0f} img/s "
            f"(batch {best['batch']}, {best['threads']} threads), {ratio:.2f}x PyTorch's best "
            f"({rival['variant']}, batch {rival['batch']}, {rival['threads']} threads, "
            f"{rival['items_per_s']:,.0f} img/s); target >= {CPU_LARGE_TARGET_RATIO:.0f}x: {met}"
        )
        # and batch by batch, each against PyTorch's best at that batch: the verdict's two
        # rows may be of two batches
        same = []
        for batch in sorted({r["batch"] for r in ours} & {r["batch"] for r in theirs}):
            a = max((r for r in ours if r["batch"] == batch), key=lambda r: r["items_per_s"])
            b = max((r for r in theirs if r["batch"] == batch), key=lambda r: r["items_per_s"])
            same.append(f"{batch}: {a['items_per_s'] / b['items_per_s']:.2f}x "
                        f"({a['variant']} / {b['variant']})")  # fmt: skip
        if same:
            lines.append("cpu large batch, at the same batch: " + "; ".join(same))
    isa = next((r["isa"] for r in cpu if r.get("isa")), "")
    if isa:
        lines.append(f"cpu ISA: {isa}")
    kernels = {}
    for r in cpu:
        kernels.setdefault(r["variant"], r.get("cpu_kernels", ""))
    lines += [f"cpu kernels of {v}: {k}" for v, k in kernels.items() if k]
    return lines


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None where it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def chart(rows: list[dict], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
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


def e2e_chart(rows: list[dict], path: Path) -> Path | None:
    """Seconds per epoch of the note's script, each bar split into waiting for data and the
    rest of the step."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [f"{r['variant']} {r['device']}" for r in rows]
    data = [r["s_per_epoch"] * min(r["data_share"], 1.0) for r in rows]
    rest = [r["s_per_epoch"] - d for r, d in zip(rows, data, strict=True)]
    ax.barh(labels, data, color="tab:orange", label="the data path (timed alone)")
    ax.barh(labels, rest, left=data, color="tab:blue", label="the rest of the step")
    ax.set_xlabel("seconds per 50,000-image epoch (batch 4)")
    ax.legend()
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
    text = ""
    core_rows, e2e_rows = cores_of(rows), e2e_of(rows)
    if core_rows:
        text = table(core_rows)
        lines = verdicts(core_rows)
        if lines:
            text += "\n\n" + "\n".join(f"- {line}" for line in lines)
    if e2e_rows:
        text += "\n\n" if text else ""
        text += "End to end: the note's script (benchmarks/e2e.py)\n\n" + e2e_table(e2e_rows)
        text += "\n\n" + "\n".join(f"- {line}" for line in e2e_verdicts(e2e_rows))
    print(text)
    if args.md:
        args.md.write_text(text + "\n", encoding="utf-8")
    if args.png and core_rows and chart(core_rows, args.png):
        print(f"chart: {args.png}")
    if args.png and e2e_rows:
        path = e2e_chart(e2e_rows, args.png.with_name(args.png.stem + "-e2e.png"))
        if path:
            print(f"chart: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
