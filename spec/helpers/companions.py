"""The supported torch releases and, for each, its companion set, chosen by rule.

Used by the atlas (.ci/noxfile.py, one nox session per release) and by ``make matrix``:

    python -m spec.helpers.companions pins 2.0.1          # what goes beside torch 2.0.1
    python -m spec.helpers.companions install 2.0.1 .venv-torch2.0.1 [--torchvision V]
    python -m spec.helpers.companions order 2.15.0 2.14.1  # -> "2.14.1 2.15.0"

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
from packaging.version import Version

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
    if Version(torch) < Version("2.3"):
        out.append("numpy<2")
    if Version(torch) < Version("2.1"):
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


def install(torch: str, venv: Path, torchvision: str | None = None) -> int:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    wanted = pins(torch, torchvision)
    result = subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), *wanted],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode:
        shown = " ".join(p for p in wanted if p.startswith(("torch==", "torchvision==", "numpy")))
        print(f"matrix: {shown} cannot be installed: {conflict_line(result.stderr)}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.helpers.companions")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pins", help="print the companion set of a torch release")
    p.add_argument("torch")
    p.add_argument("--torchvision")
    i = sub.add_parser("install", help="install a release and its companions into a venv")
    i.add_argument("torch")
    i.add_argument("venv", type=Path)
    i.add_argument("--torchvision")
    o = sub.add_parser("order", help="print two releases, older first")
    o.add_argument("a")
    o.add_argument("b")
    args = parser.parse_args(argv)
    if args.command == "pins":
        print("\n".join(pins(args.torch, args.torchvision)))
    elif args.command == "install":
        return install(args.torch, args.venv, args.torchvision)
    else:
        print(" ".join(sorted((args.a, args.b), key=Version)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
