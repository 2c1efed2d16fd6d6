"""Where the suite's time goes: ``make profile-suite``.

    python -m spec.tools.profile_suite [-o reports/profile-suite.md] [-- PYTEST ARGS]

Runs what ``make test`` runs (pytest on spec/ and benchmarks/, ``-n 2 --dist loadfile
--no-loadscope-reorder``, benchmarks disabled; other pytest arguments after ``--``) and
prints:

- the wall time and the CPU time of the run, every process it waited for included
  (pytest-xdist's workers, the children tests start);
- the **import share**: one process collecting the suite alone (importing torch,
  torchvision, Lightning and every chapter, generating the tests), timed once; every
  worker pays it, so workers x that is the CPU the run spends before its first test;
- whether the venv has bytecode and the caller's ``PYTHONDONTWRITEBYTECODE``: without
  bytecode every process compiles torch again (the Makefile's "Bytecode");
- the 10 slowest items (setup, call and teardown of one test added up), and the files
  that took longest.

A measurement, never a test: nothing fails because the machine is slow. The closing
figures of a change go in its note, measured on the same machine the same day.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ["spec", "benchmarks", "-q", "-n", "2", "--dist", "loadfile", "--no-loadscope-reorder",
         "--benchmark-disable"]  # fmt: skip
PHASES = ("setup", "call", "teardown")


def children_usage() -> tuple[float, float, int]:
    """(CPU seconds, of them in the kernel, page faults) of every child waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_minflt + usage.ru_majflt


def timed(command: list[str], quiet: bool = False) -> tuple[int, float, float]:
    """(exit code, wall seconds, CPU seconds of it and every process it waited for)."""
    code, wall, (cpu, _, _) = timed_usage(command, quiet)
    return code, wall, cpu


def timed_usage(command: list[str], quiet: bool = False) -> tuple[int, float, tuple]:
    """(exit code, wall seconds, (CPU seconds, kernel seconds, page faults)) of the command
    and every process it waited for."""
    before, wall = children_usage(), time.perf_counter()
    out = subprocess.DEVNULL if quiet else None
    code = subprocess.run(command, cwd=ROOT, stdout=out, check=False).returncode
    after = children_usage()
    spent = tuple(b - a for a, b in zip(before, after, strict=True))
    return code, time.perf_counter() - wall, spent


def has_bytecode() -> bool:
    """Does the venv hold bytecode for torch (the set-up compiles it)?"""
    torch_dir = Path(sysconfig.get_path("purelib")) / "torch"
    return any((torch_dir / "__pycache__").glob("__init__.*.pyc"))


def slowest(report: dict, n: int = 10) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """(the n slowest tests, the n slowest files): seconds and node id or path, from
    pytest-json-report's file."""
    tests, files = [], {}
    for test in report.get("tests", []):
        seconds = sum(test.get(phase, {}).get("duration", 0.0) for phase in PHASES)
        tests.append((seconds, test["nodeid"]))
        file = test["nodeid"].split("::")[0]
        files[file] = files.get(file, 0.0) + seconds
    by_time = sorted(tests, reverse=True)[:n]
    return by_time, sorted(((s, f) for f, s in files.items()), reverse=True)[:n]


def workers_of(args: list[str]) -> int:
    for i, arg in enumerate(args):
        if arg in ("-n", "--numprocesses") and i + 1 < len(args):
            return int(args[i + 1]) if args[i + 1].isdigit() else os.cpu_count() or 1
        if arg.startswith("-n") and arg[2:].isdigit():
            return int(arg[2:])
    return 1


def render(figures: dict, report: dict) -> str:
    tests, files = slowest(report)
    workers = figures["workers"]
    collect = figures["collect_cpu_s"]
    share = workers * collect / figures["cpu_s"] if figures["cpu_s"] else 0.0
    summary = report.get("summary", {})
    counted = ", ".join(f"{summary[k]} {k}" for k in ("passed", "failed", "skipped", "xfailed",
                                                      "error") if summary.get(k))  # fmt: skip
    lines = [
        f"# The suite's time ({figures['when']}, {figures['machine']})",
        "",
        f"- pytest {' '.join(figures['args'])}: **{figures['wall_s']:.1f} s wall, "
        f"{figures['cpu_s']:.1f} CPU-s** (every process waited for); exit code "
        f"{figures['exit_code']}; {counted or 'no summary'}",
        f"- of that CPU, {figures['sys_s']:.1f} s in the kernel, "
        f"{figures['faults'] / 1e6:.1f} M page faults (glibc's malloc "
        f'GLIBC_TUNABLES={figures["glibc_tunables"]!r}: the Makefile\'s "Memory")',
        f"- collecting the suite in one process (imports and test generation): "
        f"{figures['collect_wall_s']:.1f} s wall, {collect:.1f} CPU-s; x {workers} workers = "
        f"{workers * collect:.1f} CPU-s, **{share:.0%} of the run's CPU** (the import share)",
        f"- the venv's bytecode: {'compiled' if figures['bytecode'] else 'MISSING'}; "
        f"PYTHONDONTWRITEBYTECODE={figures['dont_write_bytecode']!r}; threads: "
        f"OMP_NUM_THREADS={figures['omp']!r}, TORCH_NUM_THREADS={figures['torch_threads']!r}",
        "",
        "| the 10 slowest tests | s |",
        "|---|---|",
        *(f"| `{nodeid}` | {seconds:.2f} |" for seconds, nodeid in tests),
        "",
        "| the 10 slowest files | s |",
        "|---|---|",
        *(f"| `{file}` | {seconds:.2f} |" for seconds, file in files),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.tools.profile_suite",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "reports" / "profile-suite.md")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments")
    args = parser.parse_args(argv)
    suite = args.pytest_args or SUITE
    python = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryDirectory(prefix="profile-suite-") as work:
        report_file = Path(work) / "run.json"
        code, wall, (cpu, sys_s, faults) = timed_usage(
            [*python, *suite, "--run-report", str(report_file)]
        )
        paths = [a for a in suite if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
        _, collect_wall, collect_cpu = timed(
            [*python, *paths, "--collect-only", "-q", "-p", "no:cacheprovider"], quiet=True
        )
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
    figures = {
        "when": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()}-core {sys.platform}",
        "args": suite,
        "exit_code": code,
        "wall_s": wall,
        "cpu_s": cpu,
        "sys_s": sys_s,
        "faults": faults,
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "workers": workers_of(suite),
        "collect_wall_s": collect_wall,
        "collect_cpu_s": collect_cpu,
        "bytecode": has_bytecode(),
        "dont_write_bytecode": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "omp": os.environ.get("OMP_NUM_THREADS", ""),
        "torch_threads": os.environ.get("TORCH_NUM_THREADS", ""),
    }
    text = render(figures, report)
    print(text, end="")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
