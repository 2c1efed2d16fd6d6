"""Where a training step's time goes on the GPU: kernels per step, their summed time, and
the idle gaps between them — the numbers that say whether a variant is bound by launch
latency (gaps), by many tiny kernels (count x a few us each) or by the kernels' own work.

    python -m benchmarks.profile_step cifar4:eager cifar4:graph+fused:10 [--steps 100] \
        [--json out.json]

Each argument is CORE:VARIANT[:STEPS_PER_GRAPH] (cores and variants as in
``benchmarks/test_training_core.py``). The step runs warm first, then ``--steps`` steps
are traced by the PyTorch profiler (CUPTI sees kernels inside CUDA-graph replays too);
the Chrome trace's GPU events are summed here. CUDA only: on a machine without it the
command says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks import cores

TRAINING_CORES = cores.TRAINING_CORES
GPU_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")


def parse_case(text: str) -> tuple[str, str, int]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in TRAINING_CORES:
        raise ValueError(
            f"{text!r}: expected CORE:VARIANT[:STEPS_PER_GRAPH] with CORE one of "
            f"{sorted(TRAINING_CORES)}"
        )
    cores.Variant.parse(parts[1])  # refuses unknown variants by name
    per_graph = int(parts[2]) if len(parts) == 3 else 1
    return parts[0], parts[1], per_graph


def gpu_events(trace: dict) -> list[dict]:
    return [e for e in trace.get("traceEvents", []) if e.get("cat") in GPU_CATEGORIES]


def summarize(events: list[dict], steps: int, wall_us: float) -> dict:
    """Per step: GPU events, their summed duration, the busy span first start -> last end
    and the idle share of it; plus the kernels that cost most."""
    if not events:
        return {"events_per_step": 0.0}
    busy = sum(e["dur"] for e in events)
    span = max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)
    by_name: Counter = Counter()
    for e in events:
        by_name[e["name"][:70]] += e["dur"]
    return {
        "events_per_step": len(events) / steps,
        "gpu_busy_us_per_step": busy / steps,
        "gpu_span_us_per_step": span / steps,
        "idle_share_of_span": 1 - busy / span if span else 0.0,
        "mean_event_us": busy / len(events),
        "wall_us_per_step": wall_us / steps,
        "top": [(name, dur / steps) for name, dur in by_name.most_common(8)],
    }


def profile_case(core_name: str, variant: str, per_graph: int, steps: int) -> dict:
    core = TRAINING_CORES[core_name]()
    batches = cores.make_batches(core, count=max(2 * per_graph, 4))
    run = cores.runner(core, variant, "cuda", batches, steps_per_graph=per_graph)
    steps -= steps % per_graph
    steps = max(steps, per_graph)
    run.run(steps)  # warm
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start.record()
        run.run(steps)
        end.record()
        torch.cuda.synchronize()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        trace = json.loads(path.read_text(encoding="utf-8"))
    summary = summarize(gpu_events(trace), steps, start.elapsed_time(end) * 1000)
    return {"core": core_name, "variant": variant, "steps_per_graph": per_graph, **summary}


def line(r: dict) -> str:
    """One line per case: the counts that say what bounds the step."""
    return (
        f"{r['events_per_step']:.1f} GPU events/step, "
        f"busy {r.get('gpu_busy_us_per_step', 0):.1f} us, "
        f"span {r.get('gpu_span_us_per_step', 0):.1f} us, "
        f"idle {100 * r.get('idle_share_of_span', 0):.0f}%, "
        f"mean {r.get('mean_event_us', 0):.2f} us/event, "
        f"wall {r.get('wall_us_per_step', 0):.1f} us/step"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step")
    parser.add_argument("cases", nargs="+", help="CORE:VARIANT[:STEPS_PER_GRAPH]")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        cases = [parse_case(c) for c in args.cases]
    except ValueError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print(
            f"{parser.prog}: error: needs CUDA (torch.cuda.is_available() is False)",
            file=sys.stderr,
        )
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    results = []
    for core_name, variant, per_graph in cases:
        r = profile_case(core_name, variant, per_graph, args.steps)
        results.append(r)
        print(f"{core_name} {variant} x{per_graph}: {line(r)}")
        for name, us in r.get("top", []):
            print(f"    {us:8.2f} us/step  {name}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
