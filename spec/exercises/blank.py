"""Proof that the spec grades: the blank skeleton's run, judged.

``python -m spec.exercises.blank RUN.json`` reads the run report of the spec run against
a skeleton just written by ``make exercises`` (every body raises NotImplementedError) and
exits 1, naming the tests, unless:

- no test failed or errored (a learner's first run is all "to do", never red);
- every implementation test is *to do* (or skipped for a machine reason: CUDA, network) —
  one that passes on code that does nothing cannot tell right code from wrong;
- every fact passed (facts do not depend on the implementation);
- every extra of the reference was left out (not demanded of a learner).

CI runs it after the reference's run (``make test``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from spec.helpers.run_report import load_run_report

#: Skips that are about the machine, not the implementation.
MACHINE_REASONS = ("needs CUDA", "needs the internet", "needs ")


def judge(report: dict) -> list[str]:
    """The problems of a blank skeleton's run; empty when it proves what it should."""
    problems = []
    if report.get("implementation", {}).get("is_reference", True):
        problems.append("this run tested the reference, not a blank skeleton")
    for nodeid, test in sorted(report["tests"].items()):
        kind, outcome, reason = test.get("kind"), test["outcome"], test.get("reason", "")
        if outcome in ("failed", "error"):
            problems.append(f"{nodeid}: {outcome} ({reason})")
        elif kind == "implementation" and outcome not in ("todo", "skipped"):
            problems.append(
                f"{nodeid}: {outcome} on a blank skeleton — it does not depend on the "
                "implementation (mark it fact, or make it call the implementation)"
            )
        elif (
            kind == "implementation"
            and outcome == "skipped"
            and not reason.startswith(MACHINE_REASONS)
        ):
            problems.append(f"{nodeid}: skipped ({reason}), not to do")
        elif kind == "fact" and outcome not in ("passed", "skipped", "xfailed"):
            problems.append(f"{nodeid}: a fact that did not pass ({outcome}: {reason})")
        elif kind == "extra" and outcome not in ("skipped", "xfailed"):
            problems.append(f"{nodeid}: an extra of the reference that ran ({outcome})")
    return problems


def summary(report: dict) -> str:
    counts = Counter((t.get("kind"), t["outcome"]) for t in report["tests"].values())
    todo = counts["implementation", "todo"]
    impl = sum(n for (kind, _), n in counts.items() if kind == "implementation")
    facts = counts["fact", "passed"]
    return (
        f"blank skeleton: {todo} of {impl} implementation tests to do "
        f"({impl - todo} skipped for the machine), {facts} facts pass, "
        f"{sum(n for (k, _), n in counts.items() if k == 'extra')} extras not demanded"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.exercises.blank", description=__doc__)
    parser.add_argument("report", type=Path, help="the run report (--run-report) of that run")
    args = parser.parse_args(argv)
    report = load_run_report(args.report)
    problems = judge(report)
    print(summary(report))
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
