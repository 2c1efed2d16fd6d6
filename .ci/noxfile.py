"""The atlas: the spec under every supported torch release, one nox session per release.

    make atlas                                   # every release, one after the other
    .venv/bin/nox -f .ci/noxfile.py -s "atlas(torch='2.0.1')"   # one release

Each session: a fresh venv (uv), torch at that release and its companion set chosen by
rule (``spec.tools.companions``), the spec with a run report, the venv deleted (each is ~6 GB).
Per release it leaves in reports/atlas/: ``run-torchX.json`` (the run report),
``companions-torchX.txt`` (what was installed) and ``session-torchX.json`` (seconds to
install and to test, the disk the venv and its download cache took). Then
``python -m spec.tools.atlas reports/atlas -o spec/atlas.md`` writes the atlas.

On a machine whose pip is capped by a constraints file (torch<=2.14.1), uv does not read
pip's configuration: the newest release installs like the others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "atlas"
sys.path.insert(0, str(ROOT))
from spec.tools.companions import RELEASES, pins  # noqa: E402

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True


def disk_bytes(*paths: Path) -> int:
    """Bytes on disk under ``paths``, a file hard-linked from one into another (uv links
    the venv's files from its cache) counted once."""
    out = subprocess.run(["du", "-scb", *map(str, paths)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    last = out.stdout.strip().splitlines()[-1:] if out.returncode == 0 else []
    return int(last[0].split()[0]) if last else 0


@nox.session(python="3.11")
@nox.parametrize("torch", list(RELEASES))
def atlas(session: nox.Session, torch: str) -> None:
    """The spec on one torch release, its companions chosen by rule; the venv deleted."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix=f"uv-cache-{torch}-"))
    # bytecode compiled at install: where PYTHONDONTWRITEBYTECODE=1, every process of the run
    # would compile torch again (Makefile, "Bytecode")
    env = {"UV_CACHE_DIR": str(cache), "PIP_CONSTRAINT": "", "UV_COMPILE_BYTECODE": "1"}
    venv = Path(session.virtualenv.location)
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    record = {"torch": torch, "companions": pins(torch), "spec_commit": commit}
    try:
        start = time.perf_counter()
        session.install(*pins(torch), env=env)
        record["install_s"] = round(time.perf_counter() - start, 1)
        record["disk_bytes"] = disk_bytes(venv, cache)
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
