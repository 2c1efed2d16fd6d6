"""The supported torch releases and, for each, its companion set, chosen by rule.

Used by the atlas (.ci/noxfile.py, one nox session per release) and by ``make matrix``:

    python -m spec.tools.companions pins 2.0.1          # what goes beside torch 2.0.1
    python -m spec.tools.companions install 2.0.1 .venv-torch2.0.1 [--torchvision V]
    python -m spec.tools.companions order 2.15.0 2.14.1  # -> "2.14.1 2.15.0"
    python -m spec.tools.companions check 2.0             # refused: names 2.0.1 and the rest
    python -m spec.tools.companions fresh reports/run-torch2.14.1.json 2.14.1  # reusable?

``install`` uses uv (pip's configuration, and so a pip constraints file, does not apply
to it); where the resolver finds no set, it ends with one line naming the conflicting
pins, exit status 1.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from spec.helpers.drift import GATES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

#: The last patch of every minor release from 2.0 on, and 1.13.1 (the last 1.x with
#: wheels for Python 3.11) -> the torchvision built for it (each torchvision wheel pins
#: the one torch it was built with). None: none for this Python on the registry.
RELEASES = {
    "1.13.1": None,
    "2.0.1": "0.15.2",
    "2.1.2": "0.16.2",
    "2.2.2": "0.17.2",
    "2.3.1": "0.18.1",
    "2.4.1": "0.19.1",
    "2.5.1": "0.20.1",
    "2.6.0": "0.21.0",
    "2.7.1": "0.22.1",
    "2.8.0": "0.23.0",
    "2.9.1": "0.24.1",
    "2.10.0": "0.25.0",
    "2.11.0": "0.26.0",
    "2.12.1": "0.27.1",
    "2.13.0": "0.28.0",
    "2.14.1": "0.29.1",
    "2.15.0": "0.29.2",
}

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
#: Pinned by the rules below, not taken from pyproject.toml.
BY_RULE = {"torch", "torchvision", "numpy"}


def extras() -> list[str]:
    """pyproject.toml's dependencies and test extras, by name only: the resolver picks the
    newest release of each that declares support for what is pinned (Lightning and
    torchmetrics declare their torch range; pandas 3 declares NumPy >= 2)."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    names = [Requirement(r).name for r in wanted]
    return [n for n in dict.fromkeys(names) if n not in BY_RULE]


#: Extras that cannot install without a torchvision (they require it).
NEED_TORCHVISION = ("pretrainedmodels",)


def pins(torch: str, torchvision: str | None = None) -> list[str]:
    """What to install beside ``torch==torch``, by rule:

    - torchvision: the one built for it (``RELEASES``, or as given); where there is none,
      nothing that requires it (``NEED_TORCHVISION``);
    - NumPy < 2 below torch 2.3: earlier wheels were built against NumPy 1.x without
      declaring it ("Failed to initialize NumPy: _ARRAY_API not found" under 2.x);
    - setuptools < 81 below torch 2.1: the newest Lightning for torch 2.0 (2.3.3) imports
      ``pkg_resources``, which setuptools 81 removed;
    - everything else: the newest release that declares support (left to the resolver).
    """
    out = [f"torch=={torch}"]
    vision = torchvision or RELEASES.get(torch)
    if vision:
        out.append(f"torchvision=={vision}")
    if not GATES["built for NumPy 2"].met_by(torch):
        out.append("numpy<2")
    if not GATES["Lightning without pkg_resources"].met_by(torch):
        out.append("setuptools<81")
    return out + [e for e in extras() if vision or e not in NEED_TORCHVISION]


def conflict_line(stderr: str) -> str:
    """The resolver's one sentence that names the conflicting pins."""
    lines = [line.strip().lstrip("╰─▶").strip() for line in stderr.splitlines()]
    lines = [line.removeprefix("cause:").strip() for line in lines]
    for key in ("Because ", "No solution found", "ResolutionImpossible", "error:"):
        hit = next((line for line in lines if key in line), None)
        if hit:
            return hit
    return next((line for line in lines if line), "unknown error")


def uv() -> str:
    """The uv beside this interpreter (make venv installs it there), else the one on PATH."""
    sibling = Path(sys.executable).parent / "uv"
    return str(sibling) if sibling.exists() else shutil.which("uv") or "uv"


def unsupported(torch: str) -> str | None:
    """Why ``torch`` cannot be compared (one line naming the supported releases), or None.

    A release must be given with its patch number, as one of ``RELEASES``: "2.0" would
    install 2.0.0, which no torchvision on the registry is built for."""
    if torch in RELEASES:
        return None
    listed = ", ".join(RELEASES)
    try:
        minor = Version(torch).release[:2]
    except InvalidVersion:
        return f"matrix: {torch!r} is not a torch release; supported: {listed}"
    same_minor = [r for r in RELEASES if Version(r).release[:2] == minor]
    hint = f" (did you mean {same_minor[0]}?)" if same_minor else ""
    return f"matrix: torch {torch} is not a supported release{hint}; supported: {listed}"


def install(torch: str, venv: Path, torchvision: str | None = None) -> int:
    why = unsupported(torch)
    if why:
        print(why)
        return 2
    python = venv / "bin" / "python"
    created = not venv.exists()
    try:
        if not python.exists():
            subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)],
                           check=True, capture_output=True, text=True)  # fmt: skip
        wanted = pins(torch, torchvision)
        result = subprocess.run(
            [uv(), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
             *wanted], capture_output=True, text=True, check=False,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:
        result = subprocess.CompletedProcess(e.args, 1, "", getattr(e, "stderr", None) or str(e))
        wanted = [f"torch=={torch}"]
    if result.returncode:
        if created:  # nothing half-installed is left to be taken for a working venv
            shutil.rmtree(venv, ignore_errors=True)
        shown = " ".join(p for p in wanted if p.startswith(("torch==", "torchvision==", "numpy")))
        print(f"matrix: {shown} cannot be installed: {conflict_line(result.stderr)}")
        return 1
    return 0


def fresh(report: Path, torch: str) -> bool:
    """True where ``report`` is a run report of this spec's commit, clean then and now,
    on torch ``torch``: ``make matrix`` reuses it instead of running the spec again."""
    import json

    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    spec = data.get("spec") or {}
    head = _git("rev-parse", "HEAD")
    clean_now = _git("status", "--porcelain") == ""
    same_torch = str(data.get("versions", {}).get("torch", "")).split("+")[0] == torch
    return bool(head) and spec.get("commit") == head and not spec.get("dirty", True) \
        and clean_now and same_torch  # fmt: skip


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=PYPROJECT.parent, capture_output=True,
                              text=True, check=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.tools.companions")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pins", help="print the companion set of a torch release")
    p.add_argument("torch")
    p.add_argument("--torchvision")
    i = sub.add_parser("install", help="install a release and its companions into a venv")
    i.add_argument("torch")
    i.add_argument("venv", type=Path)
    i.add_argument("--torchvision")
    c = sub.add_parser("check", help="exit 2 with one line unless a release is supported")
    c.add_argument("torch")
    f = sub.add_parser("fresh", help="exit 0 where a run report can be reused (same commit, torch)")
    f.add_argument("report", type=Path)
    f.add_argument("torch")
    o = sub.add_parser("order", help="print two releases, older first")
    o.add_argument("a")
    o.add_argument("b")
    args = parser.parse_args(argv)
    if args.command == "pins":
        print("\n".join(pins(args.torch, args.torchvision)))
    elif args.command == "install":
        return install(args.torch, args.venv, args.torchvision)
    elif args.command == "check":
        why = unsupported(args.torch)
        if why:
            print(why)
        return 2 if why else 0
    elif args.command == "fresh":
        return 0 if fresh(args.report, args.torch) else 1
    else:
        print(" ".join(sorted((args.a, args.b), key=Version)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
