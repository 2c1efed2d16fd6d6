"""The atlas: the spec under every supported torch release, one nox session per release.

    make atlas                                   # every release, one after the other
    .venv/bin/nox -f .ci/noxfile.py -s "atlas(torch='2.0.1')"   # one release

Each session: a fresh venv (uv), torch at that release and its companion set chosen by
rule (``companions``), the spec with a run report, the venv deleted (each is ~6 GB).
Per release it leaves in reports/atlas/: ``run-torchX.json`` (the run report),
``companions-torchX.txt`` (what was installed) and ``session-torchX.json`` (seconds to
install and to test, the disk the venv and its download cache took). Then
``python -m spec.helpers.atlas reports/atlas -o spec/atlas.md`` writes the atlas.

On a machine whose pip is capped by a constraints file (torch<=2.14.1), uv does not read
pip's configuration: the newest release installs like the others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "atlas"

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True

#: The last patch of every minor release from 2.0 on, and 1.13.1 (the last 1.x with
#: wheels for Python 3.11) — torch -> torchvision. Each torchvision wheel pins the one
#: torch it was built with; None: none for this Python on the registry.
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

#: The test extras of pyproject.toml, unpinned: the resolver picks the newest release of
#: each that declares support for the torch being installed (Lightning and torchmetrics
#: declare their torch range; torchvision pins its torch).
EXTRAS = [
    "pytest", "pytest-xdist", "pytest-benchmark", "hypothesis", "pytorch-lightning",
    "torchmetrics", "tensorboard", "matplotlib", "mlxtend", "sybil", "scipy",
    "pretrainedmodels", "six", "pytest-html", "pytest-json-report", "pytest-regressions",
    "pandas", "tqdm", "packaging",
]  # fmt: skip


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("+")[0].split(".")[:3])


def companions(torch_version: str) -> list[str]:
    """What to install beside ``torch==torch_version``, by rule:

    - torchvision: the one built for it (``RELEASES``), none where there is none;
    - NumPy < 2 below torch 2.3: earlier wheels were built against NumPy 1.x without
      declaring it ("Failed to initialize NumPy: _ARRAY_API not found" under 2.x);
    - everything else: the newest release that declares support for these (left to the
      resolver: pandas 3 declares NumPy >= 2, so NumPy < 2 brings an older pandas).
    """
    pins = [f"torch=={torch_version}"]
    vision = RELEASES.get(torch_version)
    if vision:
        pins.append(f"torchvision=={vision}")
    if version_tuple(torch_version) < (2, 3):
        pins.append("numpy<2")
    return pins + EXTRAS


def disk_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout else 0


@nox.session(python="3.11")
@nox.parametrize("torch", list(RELEASES))
def atlas(session: nox.Session, torch: str) -> None:
    """The spec on one torch release, its companions chosen by rule; the venv deleted."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix=f"uv-cache-{torch}-"))
    env = {"UV_CACHE_DIR": str(cache), "PIP_CONSTRAINT": ""}
    venv = Path(session.virtualenv.location)
    record = {"torch": torch, "companions": companions(torch)}
    try:
        start = time.perf_counter()
        session.install(*companions(torch), env=env)
        record["install_s"] = round(time.perf_counter() - start, 1)
        record["disk_bytes"] = disk_bytes(venv) + disk_bytes(cache)
        frozen = session.run("uv", "pip", "freeze", "--python", str(venv / "bin" / "python"),
                             silent=True, external=True)  # fmt: skip
        (OUT / f"companions-torch{torch}.txt").write_text(frozen or "", encoding="utf-8")
        session.chdir(ROOT)
        start = time.perf_counter()
        report = OUT / f"run-torch{torch}.json"
        session.run(
            "python", "-m", "pytest", "spec", "-q", "-n", "2", "-p", "no:cacheprovider",
            "--run-report", str(report), "--hypothesis-profile", "default",
            env={"OMP_NUM_THREADS": "1", "TORCH_NUM_THREADS": "1"},
            success_codes=list(range(6)),
        )  # fmt: skip
        record["test_s"] = round(time.perf_counter() - start, 1)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
        (OUT / f"session-torch{torch}.json").write_text(json.dumps(record, indent=1))
    if os.environ.get("ATLAS_STOP_ON_FAILURE") and not report.exists():
        session.error(f"torch {torch}: no run report")
