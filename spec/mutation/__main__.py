"""``python -m spec.mutation run|rerun|report``: mutation testing of reference/, its report.

``run`` runs ``mutmut run`` (pyproject.toml's ``[tool.mutmut]``) and then ``report``;
``run --continue`` keeps the results an earlier run recorded in ``exit-codes.json`` (on the
same reference/) and runs only the others: a long run can be done in parts;
``rerun`` runs the survivors again once the tests are sharper;
``report`` reads mutmut's results in ``mutants/`` and writes ``spec/mutation/REPORT.md``
and ``spec/mutation/results.json``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MUTANTS = ROOT / "mutants"
EQUIVALENT = HERE / "equivalent.toml"
REPORT = HERE / "REPORT.md"
RESULTS = HERE / "results.json"
RUN_LOG = MUTANTS / "spec-mutation-run.json"
#: Every result of the last report, by mutant, with a hash of each reference/ module as it
#: was measured: ``run --continue`` starts from it, so a run stopped before its end (or cut
#: in parts across machines) goes on where it stopped instead of starting over, and a
#: module changed since is run again.
EXIT_CODES = HERE / "exit-codes.json"
#: The targets: of the mutants that are not equivalent, this share killed overall, and at
#: least the second in every module.
TARGET, MODULE_FLOOR = 0.90, 0.80


def mutmut() -> list[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mutmut"]


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""


STATS = MUTANTS / "mutmut-stats.json"
#: A mutant name no function has: ``mutmut run`` on it collects the stats and stops.
NOTHING = "reference.spec_mutation_collect_stats_only*"


def widen() -> int:
    """Give each function every test of the chapters its tests are in.

    mutmut learns which tests cover a function by recording the calls made during each
    test. A module- or session-scoped fixture (the trained CIFAR net, the fitted
    LitMNIST, the generated data) runs inside the first test that uses it, so only that
    test is recorded, and the chapter's other tests — the ones that check what the
    fixture made — would never run against the function's mutants."""
    stats = json.loads(STATS.read_text(encoding="utf-8"))
    by_file: dict[str, list[str]] = defaultdict(list)
    for test in stats["duration_by_test"]:
        by_file[test.split("::")[0]].append(test)
    added = 0
    tests_by_function = stats["tests_by_mangled_function_name"]
    for function in functions_without_tests(tests_by_function):
        module = function.rsplit(".", 1)[0]
        files = CHILD_PROCESS_TESTS.get(module, ())
        tests_by_function[function] = [t for f in files for t in by_file[f]]
    for function, tests in stats["tests_by_mangled_function_name"].items():
        # and, for a module whose code the chapters also run in child processes, those
        # chapters' tests: a call made in a child is never seen, whatever the parent ran
        children = CHILD_PROCESS_TESTS.get(function.rsplit(".", 1)[0], ())
        files = {t.split("::")[0] for t in tests} | set(children)
        wider = sorted({*tests, *(t for f in files for t in by_file[f])})
        added += len(wider) - len(tests)
        stats["tests_by_mangled_function_name"][function] = wider
    STATS.write_text(json.dumps(stats, indent=1), encoding="utf-8")
    return added


#: Code the chapters run in child processes (a resumed run, DDP workers, a writer killed
#: mid-save): mutmut sees no test call it, but the child imports the mutated reference,
#: so these chapters do run its mutants.
CHILD_PROCESS_TESTS = {
    "reference.resume": (
        "spec/guarantees/02_resume_and_determinism.py",
        "spec/guarantees/07_checkpoint_faults.py",
    ),
    "reference.distributed": ("spec/guarantees/04_distributed.py",),
    "reference.checkpoint": (
        "spec/guarantees/01_safe_checkpoints.py",
        "spec/guarantees/07_checkpoint_faults.py",
    ),
}


def functions_without_tests(tests_by_function: dict) -> list[str]:
    """The mangled names of mutated functions no test was seen to call."""
    names = set()
    for meta in (MUTANTS / "reference").glob("*.py.meta"):
        for mutant in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]:
            names.add(mutant.rsplit("__mutmut_", 1)[0])
    return sorted(n for n in names if not tests_by_function.get(n))


def _files(commit: str | None) -> dict[str, bytes]:
    """{module: its source} for reference/ on disk, or at ``commit``."""
    if commit is None:
        return {p.stem: p.read_bytes() for p in sorted((ROOT / "reference").glob("*.py"))}
    names = git("ls-tree", "--name-only", commit, "reference/").split()
    return {
        Path(n).stem: subprocess.run(["git", "show", f"{commit}:{n}"], cwd=ROOT,
                                     capture_output=True, check=True).stdout
        for n in names if n.endswith(".py")
    }  # fmt: skip


def _code(node: ast.AST) -> str:
    """sha256 of a node's code: its syntax tree less docstrings (comments, layout and
    docstrings change no mutant's behaviour)."""
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                n.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(node).encode()).hexdigest()


def sources(commit: str | None = None) -> dict[str, str]:
    """{module: digest of its code} for reference/ on disk, or at ``commit``."""
    return {m: _code(ast.parse(data)) for m, data in _files(commit).items()}


#: How mutmut joins a class and its method in a mutant's name.
SEP = "\u01c1"


def functions(commit: str | None = None) -> dict[str, str]:
    """{function, named as mutmut names its mutants' prefix: digest of its code}:
    ``reference.m.x_f`` for a function, ``reference.m.xǁClassǁf`` for a method; and
    ``reference.m`` for the module's code outside its functions (imports, constants,
    class bodies), which every function's behaviour may depend on."""
    found = {}
    for module, data in _files(commit).items():
        tree = ast.parse(data)
        defs = (ast.FunctionDef, ast.AsyncFunctionDef)
        for node in tree.body:
            if isinstance(node, defs):
                found[f"reference.{module}.x_{node.name}"] = _code(node)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, defs):
                        found[f"reference.{module}.x{SEP}{node.name}{SEP}{item.name}"] = _code(item)
        rest = copy.deepcopy(tree)
        rest.body = [n for n in rest.body if not isinstance(n, defs)]
        for node in rest.body:
            if isinstance(node, ast.ClassDef):
                node.body = [n for n in node.body if not isinstance(n, defs)] or [ast.Pass()]
        found[f"reference.{module}"] = _code(rest)
    return found


#: How exit-codes.json's digests were made; a file without it is hashed again from the
#: commit of its last part.
DIGEST = "ast-without-docstrings/2"


#: The exit codes kept for ``run --continue``: results. Not kept: "interrupted" (2), a
#: SIGKILL (-9: the run stopped by hand, or the kernel's OOM killer), "suspicious".
KEPT_EXIT_CODES = {0, 1, 3, 5, 33, 36, 24, -24, 152, 255, -11}


def restore(
    now: dict[str, str], now_functions: dict[str, str] | None = None, again: set[str] = frozenset()
):
    """Write the results of ``exit-codes.json`` into the .meta files of the mutants just
    generated, where the code is the one they were measured on: ``(the parts that
    measured them, how many results)``, or None.

    ``now`` is ``sources()``, ``now_functions`` is ``functions()``; the mutants named in
    ``again`` get no result back (``rerun``). A module whose code is
    unchanged keeps every result; in a changed module, the mutants of the functions whose
    code is unchanged keep theirs (a mutant is a change inside one function, numbered
    within it) as long as the code outside the functions is unchanged too, and those of
    the changed functions run again. Docstrings, comments and
    layout are not code here.

    mutmut lets a result in a .meta file stand (it runs only the mutants without one), so
    the run goes on with the mutants the earlier parts did not reach. Tests only grow
    between the parts: a mutant killed then is killed now."""
    if not EXIT_CODES.exists():
        return None
    saved = json.loads(EXIT_CODES.read_text(encoding="utf-8"))
    if saved.get("digest") != DIGEST:  # made before the digests were of the code alone
        commit = saved["parts"][-1]["commit"]
        saved["sources"], saved["functions"] = sources(commit), functions(commit)
    same = {m for m, digest in saved.get("sources", {}).items() if now.get(m) == digest}
    now_functions = now_functions or {}
    same_functions = {
        f for f, digest in saved.get("functions", {}).items() if now_functions.get(f) == digest
    }
    codes, restored = saved["exit_codes"], 0
    for meta in (MUTANTS / "reference").glob("*.py.meta"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            if name in again:  # a result mutmut kept in its .meta file would stand
                data["exit_code_by_key"][name] = None
                continue
            rest = f"reference.{module_of(name)}"  # the module outside its functions
            unchanged = module_of(name) in same or (
                function_of(name) in same_functions and rest in same_functions
            )
            keep = codes.get(name) in KEPT_EXIT_CODES and unchanged
            if code is None and keep:
                data["exit_code_by_key"][name] = codes[name]
                restored += 1
            elif keep and code == codes[name]:  # restored by a continuation stopped early
                restored += 1
        meta.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return (saved["parts"], restored) if restored else None


def run(max_children: int, continue_: bool = False) -> int:
    """mutmut run, timed (its stats first, widened to whole chapters); then the report.

    ``continue_``: start from the results in exit-codes.json where they were measured on
    the same reference/ (see ``restore``)."""
    start = time.monotonic()
    # What is measured is the code as it is now: the commit is taken before the run (a
    # commit made while it runs is not what mutmut copied into mutants/).
    measured = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "max_children": max_children,
        "commit": git("rev-parse", "--short=12", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_NUM_THREADS": "1"}
    subprocess.run([*mutmut(), "run", NOTHING], cwd=ROOT, env=env)  # stats, no mutant
    MUTANTS.mkdir(exist_ok=True)
    RUN_LOG.write_text(json.dumps(measured))
    print(f"widened the tests of each function to whole chapters: {widen()} more")
    if continue_:
        earlier = restore(sources(), functions())
        if earlier is None:
            print("nothing to continue from: no exit-codes.json, or of other reference/ code")
        else:
            measured["earlier"], restored = earlier
            measured["restored"] = restored
            print(f"continuing: {restored} results of the earlier parts stand")
        RUN_LOG.write_text(json.dumps(measured))
    done = subprocess.run(
        [*mutmut(), "run", "--max-children", str(max_children)], cwd=ROOT, env=env
    )
    measured["seconds"] = round(time.monotonic() - start)
    RUN_LOG.write_text(json.dumps(measured))
    if done.returncode != 0:
        print(f"mutmut run failed (exit {done.returncode}): no report written")
        return done.returncode
    return report()


def statuses() -> dict[str, str]:
    """{mutant name: mutmut's status} from the .meta files mutmut writes."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((MUTANTS / "reference").glob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            found[name] = status_by_exit_code[code]
    return found


def module_of(mutant: str) -> str:
    """'reference.cifar10.x_train__mutmut_3' -> 'cifar10'."""
    return mutant.split(".")[1]


def function_of(mutant: str) -> str:
    """'reference.cifar10.x_train__mutmut_3' -> 'reference.cifar10.x_train'."""
    return mutant.rsplit("__mutmut_", 1)[0]


def diff_of(mutant: str) -> str:
    done = subprocess.run([*mutmut(), "show", mutant], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("-", "+"))]
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))


def load_equivalent() -> dict[str, dict]:
    import tomllib  # Python 3.11+, like mutmut's own config reading

    if not EQUIVALENT.exists():
        return {}
    return tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get("mutant", {})


def report() -> int:
    found = statuses()
    if not found:
        print("no mutmut results in mutants/: run `make mutants` first")
        return 2
    equivalent = load_equivalent()
    run_log = json.loads(RUN_LOG.read_text()) if RUN_LOG.exists() else {}
    if "seconds" not in run_log and run_log.get("started"):
        # A run stopped before its end: its time is up to the last result written.
        last = max(m.stat().st_mtime for m in (MUTANTS / "reference").glob("*.py.meta"))
        started = datetime.fromisoformat(run_log["started"]).timestamp()
        run_log = {**run_log, "seconds": round(last - started), "stopped_early": True}
    per_module: dict[str, Counter] = defaultdict(Counter)
    survivors, stale = [], []
    for name, status in found.items():
        module = module_of(name)
        if status in ("survived", "no tests") and name in equivalent:
            per_module[module][equivalent[name].get("kind", "equivalent")] += 1
            diff = diff_of(name)
            if equivalent[name].get("change") and equivalent[name]["change"] not in diff:
                stale.append(name)
            continue
        status = "not run" if status in ("not checked", "check was interrupted by user") else status
        per_module[module][status] += 1
        if status in ("survived", "no tests", "suspicious"):
            survivors.append((name, status, diff_of(name)))
    rows, totals = [], Counter()
    for module in sorted(per_module):
        c = per_module[module]
        totals.update(c)
        rows.append((module, c, score(c)))
    overall = score(totals)
    results = {
        "measured": run_log,
        "mutmut": mutmut_version(),
        "score": overall,
        "target": TARGET,
        "module_floor": MODULE_FLOOR,
        "modules": {m: {**dict(c), "score": s} for m, c, s in rows},
        "survivors": [{"mutant": n, "status": st, "diff": d} for n, st, d in survivors],
        "equivalent_entries_not_matching": stale,
    }
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    write_exit_codes(run_log)
    REPORT.write_text(render(results), encoding="utf-8")
    print(render(results).split("\n## Survivors")[0])
    met = overall is not None and overall >= TARGET
    met = met and all(s is not None and s >= MODULE_FLOOR for _, _, s in rows)
    return 0 if met and not stale else 1


def write_exit_codes(run_log: dict) -> None:
    """exit-codes.json: each mutant's result and the parts of the run that measured them,
    for ``run --continue``."""
    codes = {}
    for meta in sorted((MUTANTS / "reference").glob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes.update({k: v for k, v in data["exit_code_by_key"].items() if v in KEPT_EXIT_CODES})
    earlier = run_log.get("earlier", [])
    this_part = {k: run_log.get(k) for k in ("commit", "date", "seconds", "cores", "max_children")}
    # What this part ran: every result less those it started from (the earlier parts'
    # results of modules changed since were run again, so they do not count twice).
    started_from = run_log.get("restored", sum(part["mutants"] for part in earlier))
    this_part["mutants"] = len(codes) - started_from
    if run_log.get("dirty") or not run_log.get("commit"):
        print("not writing exit-codes.json: the run measured uncommitted code")
        return
    # The code the results now stand for: the run's, or the latest rerun's (a rerun keeps
    # only results of functions unchanged since, and runs the rest on its own code).
    measured_on = (run_log.get("reruns") or [run_log])[-1]["commit"]
    saved = {
        "digest": DIGEST,
        "sources": sources(measured_on),
        "functions": functions(measured_on),
        "parts": [*earlier, this_part],
        "exit_codes": dict(sorted(codes.items())),
    }
    EXIT_CODES.write_text(json.dumps(saved, indent=0) + "\n", encoding="utf-8")


#: Counted apart from the score: not changes the spec must see on this machine, or not run.
NOT_JUDGED = ("equivalent", "needs CUDA", "older torch", "not run")


def score(c: Counter) -> float:
    """Killed (a timeout is a kill: the spec stopped it; so is a crash) over the mutants
    that were run and are neither equivalent nor CUDA-only (those are run on a GPU host)."""
    judged = sum(n for k, n in c.items() if k not in NOT_JUDGED)
    if not judged:  # nothing the CPU can judge was run: no score, not a perfect one
        return None
    return round((c["killed"] + c["timeout"] + c["segfault"]) / judged, 4)


def mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


COLUMNS = (
    "killed", "timeout", "segfault", "survived", "no tests", "suspicious", "equivalent",
    "needs CUDA", "older torch", "not run",
)  # fmt: skip


def render(results: dict) -> str:
    m = results["measured"]
    lines = [
        "# Mutation testing of reference/",
        "",
        "How many small wrong changes to the reference the spec notices (`make mutants`,",
        "spec/mutation/). A mutant is one such change — an operator, a constant, a keyword",
        "argument dropped, a statement removed; *killed*: some test fails on it; *survived*:",
        "every test passes; *equivalent*: it changes nothing observable (listed with the reason in",
        "`equivalent.toml`); *needs CUDA*: observable only on a GPU (on a machine without",
        "one, `.to(device)` changes nothing), listed likewise and left to a GPU host;",
        "*older torch*: observable only on torch releases before the installed one (listed;",
        "the atlas runs those releases);",
        "*timeout*: the tests ran past their CPU time (mutmut's limit: 10 times what they",
        "took on the reference), counted as killed; *segfault*: the tests' process died of a",
        "signal, counted as killed; *not run*: the run stopped before it reached them.",
        "",
        f"- measured: {m.get('date', '?')}, commit {m.get('commit', '?')}"
        + (" (with uncommitted changes)" if m.get("dirty") else "")
        + f", mutmut {results['mutmut']}, {m.get('cores', '?')}-core CPU machine, "
        f"{m.get('max_children', '?')} mutants at a time, "
        f"{m.get('seconds', 0) / 60:.0f} min",
        *_parts_lines(m),
        *_not_run_line(results),
        f"- score: **{percent(results['score'])}** of the non-equivalent mutants killed "
        f"(target {100 * results['target']:.0f}%, no module under "
        f"{100 * results['module_floor']:.0f}%)",
        "",
        "| module | " + " | ".join(COLUMNS) + " | score |",
        "| --- | " + " | ".join("---:" for _ in COLUMNS) + " | ---: |",
    ]
    for module, c in results["modules"].items():
        cells = " | ".join(str(c.get(k, 0)) for k in COLUMNS)
        lines.append(f"| {module} | {cells} | {percent(c['score'])} |")
    lines += ["", "## Survivors", ""]
    if not results["survivors"]:
        lines.append("None: every mutant is killed or listed as equivalent.")
    for s in results["survivors"]:
        lines += [f"- `{s['mutant']}` ({s['status']})", "", "  ```diff"]
        lines += [f"  {line}" for line in s["diff"].splitlines()] + ["  ```", ""]
    if results["equivalent_entries_not_matching"]:
        lines += ["", "Equivalent entries whose recorded change no longer matches the mutant:"]
        lines += [f"- `{n}`" for n in results["equivalent_entries_not_matching"]]
    return "\n".join(lines) + "\n"


def _parts_lines(m: dict) -> list[str]:
    """The earlier parts of a continued run and the reruns of its survivors, one line each."""
    lines = [
        f"- continues {len(m['earlier'])} earlier part(s) on the same reference/, whose "
        "results stand: "
        + "; ".join(
            f"{p.get('date', '?')}, commit {p.get('commit', '?')}, {p.get('mutants', '?')} "
            f"mutants, {(p.get('seconds') or 0) / 60:.0f} min"
            for p in m["earlier"]
        )
    ] if m.get("earlier") else []  # fmt: skip
    for r in m.get("reruns", []):
        lines.append(
            f"- survivors rerun {r['date']} with the tests of commit {r['commit']}: "
            f"{r['mutants']} mutants, {r['seconds'] / 60:.0f} min"
        )
    return lines


def percent(share: float | None) -> str:
    return "not run" if share is None else f"{100 * share:.1f}%"


def _not_run_line(results: dict) -> list[str]:
    total = sum(v for c in results["modules"].values() for k, v in c.items() if k != "score")
    not_run = sum(c.get("not run", 0) for c in results["modules"].values())
    if not not_run:
        return []
    return [
        f"- **stopped before the end: {total - not_run} of {total} mutants run**; the "
        f"{not_run} others are *not run* and not in the score (the time above is up to the "
        "last result)"
    ]


def rerun(max_children: int, names: list[str]) -> int:
    """Run the survivors again (or the mutants named), after the tests changed; then the
    report. The other results stand (a mutant killed stays killed by tests that only
    grew), restored from exit-codes.json as ``run --continue`` restores them, so the
    mutants of functions changed since run again too."""
    from mutmut.stats import status_by_exit_code

    if not EXIT_CODES.exists():
        print("nothing to rerun: no exit-codes.json (make mutants first)")
        return 1
    codes = json.loads(EXIT_CODES.read_text(encoding="utf-8"))["exit_codes"]
    if not names:
        equivalent = load_equivalent()
        open_ = ("survived", "no tests", "suspicious")
        names = [n for n, c in codes.items()
                 if status_by_exit_code[c] in open_ and n not in equivalent]  # fmt: skip
    start = time.monotonic()
    rerun_log = {"date": date.today().isoformat(), "commit": git("rev-parse", "--short=12", "HEAD")}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_NUM_THREADS": "1"}
    subprocess.run([*mutmut(), "run", NOTHING], cwd=ROOT, env=env)  # the new tests' stats
    widen()
    restored = restore(sources(), functions(), again=set(names))
    total = len(statuses())
    rerun_log["mutants"] = total - (restored[1] if restored else 0)
    print(f"rerunning {rerun_log['mutants']} mutants ({len(names)} asked for)")
    done = subprocess.run(
        [*mutmut(), "run", "--max-children", str(max_children)], cwd=ROOT, env=env
    )
    if RUN_LOG.exists():  # the run's record says which tests the survivors last met
        run_log = json.loads(RUN_LOG.read_text())
        rerun_log["seconds"] = round(time.monotonic() - start)
        run_log["reruns"] = [*run_log.get("reruns", []), rerun_log]
        RUN_LOG.write_text(json.dumps(run_log))
    if done.returncode != 0:
        print(f"mutmut run failed (exit {done.returncode}): no report written")
        return done.returncode
    return report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.mutation", description=__doc__)
    parser.add_argument("command", choices=["run", "rerun", "report"])
    parser.add_argument("mutants", nargs="*", help="rerun: these mutants (default: the survivors)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--continue", dest="continue_", action="store_true",
        help="run: keep the results of exit-codes.json (same reference/ only), run the rest",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.max_children, args.continue_)
    if args.command == "rerun":
        return rerun(args.max_children, args.mutants)
    return report()


if __name__ == "__main__":
    raise SystemExit(main())
