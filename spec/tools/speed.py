"""The note's training core timed on two torch installs, side by side, for the upgrade report.

    python -m spec.tools.speed OLD_PYTHON NEW_PYTHON [-o speed.json] [--rounds 5]
        [--steps 100] [--batch 4 --batch 64]

Each Python is a venv's interpreter with its own torch. A round times, in a fresh process
of each, one CPU thread, the core of the note's CIFAR-10 section — the implementation's
``Net`` with ``make_criterion_and_optimizer`` (CrossEntropyLoss, SGD lr 0.001 momentum
0.9): zero_grad, forward, loss, backward, step on random batches — at each batch size,
as the best of three timed stretches of ``steps`` steps after a warm-up. The two
interpreters alternate in A B B A order, so a machine that slows down or speeds up
during the run weighs on both alike. The implementation is the spec's (``SPEC_IMPL``,
inherited by the children).

The JSON holds every round; ``summary`` reads it as the upgrade report does: per batch
size the median ratio new / old over the rounds and its range. A ratio whose range
contains 1 is noise; one whose whole range lies above 1 is a slowdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCHEMA = "pytorch-notes-spec/speed/1"
ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- the child
def time_core(batches: list[int], steps: int) -> dict:
    """{batch: seconds per step} for the implementation's CIFAR core, one thread."""
    import torch

    from spec.helpers.implementation import impl

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cifar10 = impl.cifar10
    per_step = {}
    for batch in batches:
        net = cifar10.Net()
        criterion, optimizer = cifar10.make_criterion_and_optimizer(net)
        inputs, labels = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        per_step[str(batch)] = _best_of_three(net, criterion, optimizer, inputs, labels, steps)
    return {"torch": torch.__version__.split("+")[0], "seconds_per_step": per_step}


def _best_of_three(net, criterion, optimizer, inputs, labels, steps: int) -> float:
    def step():
        optimizer.zero_grad()
        criterion(net(inputs), labels).backward()
        optimizer.step()

    for _ in range(max(5, steps // 5)):  # warm-up: allocator, first-call dispatch
        step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


# ----------------------------------------------------------------------------- the parent
class SpeedError(Exception):
    pass


def _child(python: str, batches: list[int], steps: int) -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": path}
    args = [python, "-m", "spec.tools.speed", "--child", "--steps", str(steps)]
    args += [a for b in batches for a in ("--batch", str(b))]
    try:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SpeedError(f"{python}: could not time the core ({e})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SpeedError(f"{python}: timing the core failed (exit {done.returncode}): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(old_python: str, new_python: str, rounds: int, steps: int, batches: list[int],
            log=print) -> dict:  # fmt: skip
    """Alternate the two interpreters (A B B A ...) ``rounds`` times each."""
    runs: dict[str, list] = {"old": [], "new": []}
    order = ("old", "new")
    for r in range(rounds):
        for side in order if r % 2 == 0 else order[::-1]:
            python = old_python if side == "old" else new_python
            runs[side].append(_child(python, batches, steps))
            log(f"round {r + 1}/{rounds}, {side}: torch {runs[side][-1]['torch']}, "
                + ", ".join(f"batch {b}: {s * 1e3:.3f} ms/step"
                            for b, s in runs[side][-1]["seconds_per_step"].items()))  # fmt: skip
    return {
        "schema": SCHEMA,
        "threads": 1,
        "steps": steps,
        "batches": batches,
        "cores": os.cpu_count(),
        "old": {"python": old_python, "torch": runs["old"][0]["torch"], "rounds": runs["old"]},
        "new": {"python": new_python, "torch": runs["new"][0]["torch"], "rounds": runs["new"]},
    }


def load(path: str | Path) -> dict:
    from spec.helpers.run_report import read_json

    return read_json(path, "a speed file", SCHEMA, SpeedError)


def summary(data: dict) -> dict[str, dict]:
    """{batch: {"ratio": median new/old, "low": .., "high": .., "reads": ..}}, the rounds
    paired in the order they ran."""
    out = {}
    for batch in map(str, data["batches"]):
        ratios = sorted(
            n["seconds_per_step"][batch] / o["seconds_per_step"][batch]
            for o, n in zip(data["old"]["rounds"], data["new"]["rounds"], strict=True)
        )
        low, high, mid = ratios[0], ratios[-1], statistics.median(ratios)
        reads = "slower" if low > 1 else "faster" if high < 1 else "within noise"
        out[batch] = {"ratio": mid, "low": low, "high": high, "reads": reads,
                      "rounds": len(ratios)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.tools.speed",
        description="Time the note's training core on two torch installs, alternating.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("old_python", nargs="?", help="the old release's interpreter")
    parser.add_argument("new_python", nargs="?", help="the new release's interpreter")
    parser.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each interpreter")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed stretch")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (4 and 64)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batches = args.batch or [4, 64]
    if args.rounds < 1 or args.steps < 1 or min(batches) < 1:
        parser.error("expected --rounds, --steps and --batch of at least 1")
    if args.child:
        print(json.dumps(time_core(batches, args.steps)))
        return 0
    if not (args.old_python and args.new_python):
        parser.error("expected two interpreters: OLD_PYTHON NEW_PYTHON")
    try:
        data = measure(args.old_python, args.new_python, args.rounds, args.steps, batches,
                       log=lambda line: print(line, file=sys.stderr))  # fmt: skip
    except SpeedError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(data, indent=1)
    if args.output:
        from spec.helpers.run_report import write_atomically

        out = write_atomically(args.output, text + "\n")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
