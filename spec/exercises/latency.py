"""How long the learner's loop takes to answer a save: ``make loop-latency``.

For each chapter asked for, a skeleton whose chapters before it are filled with the
reference (``make exercises FROM=NN``), so that a save there reruns every chapter up to
it, as it does for a learner who reached it. Then:

- **cold**: ``python -m spec.exercises.loop next`` after a save, a new process each time
  (what ``make next`` costs);
- **warm**: one ``watch`` process; a save, and the time until its verdict is on screen
  (the watch's own figure, from the file's modification time, and this tool's, from the
  moment it wrote the file).

Prints a table; ``--json`` writes the figures too. Not a test: the machine's speed decides
the figures (docs: spec/EXERCISES.md, "How fast").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty, Queue

from spec.exercises import loop, skeleton
from spec.helpers.implementation import CHAPTER_MODULES

ROOT = Path(__file__).resolve().parents[2]
ANSWERED = re.compile(r"watch: answered ([0-9.]+) s after your last save")
WAITING = "watch: waiting for a save"


def save(file: Path, n: int) -> float:
    """A save that changes nothing the tests see: a comment appended; its wall time."""
    with file.open("a", encoding="utf-8") as out:
        out.write(f"# save {n}\n")
    return time.time()


def cold(folder: Path, file: Path, saves: int) -> list[float]:
    """Seconds from a save to the end of a new ``next`` process, ``saves`` times."""
    times = []
    for n in range(saves):
        saved = save(file, n)
        subprocess.run([sys.executable, "-m", "spec.exercises.loop", "next", "--impl",
                        str(folder)], cwd=ROOT, capture_output=True, check=False)  # fmt: skip
        times.append(time.time() - saved)
    return times


def _lines(stream, queue: Queue) -> None:
    for line in stream:
        queue.put(line)


def warm(folder: Path, file: Path, saves: int, timeout: float = 120) -> dict:
    """One ``watch`` process: its start-up (to the first verdict), then per save the
    seconds it says it took and those this tool saw."""
    started = time.time()
    watch = subprocess.Popen(
        [sys.executable, "-m", "spec.exercises.loop", "watch", "--impl", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    queue: Queue = Queue()
    threading.Thread(target=_lines, args=(watch.stdout, queue), daemon=True).start()

    def until(pattern) -> re.Match | str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = queue.get(timeout=deadline - time.time())
            except Empty:
                break
            found = pattern.search(line) if hasattr(pattern, "search") else pattern in line
            if found:
                return found if hasattr(pattern, "search") else line
        raise TimeoutError(f"watch said nothing like {pattern!r} within {timeout} s")

    try:
        until(WAITING)
        first = time.time() - started
        said, seen = [], []
        for n in range(saves):
            time.sleep(0.3)  # a learner types between saves
            saved = save(file, n)
            match = until(ANSWERED)
            seen.append(time.time() - saved)
            said.append(float(match.group(1)))
            until(WAITING)
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    return {"start_s": first, "said_s": said, "seen_s": seen}


def measure(chapter: str, saves: int, work: Path) -> dict:
    folder = work / f"learner{chapter}"
    skeleton.write(folder, start=chapter if chapter != "01" else None)
    file = folder / f"{CHAPTER_MODULES[chapter]}.py"
    try:
        cold(folder, file, 1)  # the first next records which chapters pass
        result = {"chapter": chapter, "cold_s": cold(folder, file, saves)}
        result.update(warm(folder, file, saves))
    finally:
        loop.progress_path(folder).unlink(missing_ok=True)
        loop.report_path(folder).unlink(missing_ok=True)
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| chapter | cold `next` after a save, s | `watch` start-up, s | `watch` after a save, s "
        "(seen; its own figure) |",
        "|---|---|---|---|",
    ]
    for r in results:
        seen = statistics.median(r["seen_s"])
        lines.append(
            f"| {r['chapter']} | {statistics.median(r['cold_s']):.2f} | {r['start_s']:.1f} | "
            f"{seen:.2f} (max {max(r['seen_s']):.2f}; {statistics.median(r['said_s']):.1f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.exercises.latency", description=__doc__)
    parser.add_argument("chapters", nargs="*", default=[f"{n:02d}" for n in range(1, 10)])
    parser.add_argument("--saves", type=int, default=3, help="saves per chapter (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    unknown = [c for c in args.chapters if c not in CHAPTER_MODULES]
    if unknown:
        parser.error(f"no chapter {', '.join(unknown)}: one of {', '.join(CHAPTER_MODULES)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="loop-latency-") as work:
        for chapter in args.chapters:
            results.append(measure(chapter, args.saves, Path(work)))
            print(f"chapter {chapter}: {results[-1]}", file=sys.stderr, flush=True)
    environment = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "TORCH_NUM_THREADS",
                                                           "PYTHONDONTWRITEBYTECODE")}  # fmt: skip
    print(", ".join(f"{k}={v!r}" for k, v in environment.items()))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
