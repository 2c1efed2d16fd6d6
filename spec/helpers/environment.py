"""What this run is made of: library versions, devices, threads, hypothesis profiles.

Used by the report header (``pytest_report_header``) and by the checklist summary, so
a report always says which torch it pinned.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: Libraries a chapter may need that a release's companion set can lack (torch 1.13.1 has
#: no torchvision for Python 3.11 on the registry; a bare GPU host may lack Lightning).
OPTIONAL_LIBRARIES = frozenset(
    {"torchvision", "pytorch_lightning", "lightning", "torchmetrics", "tensorboard",
     "pretrainedmodels", "mlxtend", "markdown_it", "hypothesis", "pandas", "matplotlib", "scipy",
     "pytest_regressions", "pytest_benchmark", "triton"}
)  # fmt: skip


#: Distributions named in the report, in this order (absent ones say "not installed").
LIBRARIES = (
    "torch",
    "torchvision",
    "numpy",
    "pytorch_lightning",
    "torchmetrics",
    "hypothesis",
    "pytest",
)


#: The distribution that installs each module named in ``LIBRARIES``.
DISTRIBUTIONS = {"pytorch_lightning": "pytorch-lightning"}


def missing_optional_library(error: BaseException | None) -> str | None:
    """The optional library whose absence raised ``error`` (a ModuleNotFoundError naming
    one of ``OPTIONAL_LIBRARIES`` that is not installed), else None."""
    import importlib.util

    if not isinstance(error, ModuleNotFoundError):
        return None
    top = (getattr(error, "name", None) or "").split(".")[0]
    if top not in OPTIONAL_LIBRARIES or importlib.util.find_spec(top) is not None:
        return None
    return top


def library_version(module_name: str) -> str:
    """The installed version, read from the package metadata: importing a library only
    to read its version would cost seconds (Lightning's import alone takes several). A
    module already imported says its own (torch's carries its build: ``2.14.1+cu130``)."""
    loaded = sys.modules.get(module_name)
    if loaded is not None and getattr(loaded, "__version__", None):
        return str(loaded.__version__)
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(module_name, module_name))
    except importlib.metadata.PackageNotFoundError:
        pass
    try:  # not installed as a distribution (a source checkout): ask the module
        module = importlib.import_module(module_name)
    except Exception:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        found[name] = library_version(name)
    return found


def cuda_description() -> str:
    import torch

    if not torch.cuda.is_available():
        return "no CUDA"
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return f"CUDA {torch.version.cuda}: " + ", ".join(names)


def pinned_threads() -> int:
    """The intra-op threads every test process runs with: ``TORCH_NUM_THREADS``, else 1
    (the root conftest pins them)."""
    return int(os.environ.get("TORCH_NUM_THREADS", "1"))


def is_xdist_controller(config) -> bool:
    """Is this pytest-xdist's controller, which hands tests to workers and runs none?"""
    return (
        not hasattr(config, "workerinput")
        and bool(getattr(config.option, "numprocesses", None))
        and getattr(config.option, "dist", "no") != "no"
    )


def device_info(threads: int | None = None) -> dict:
    """CPU, threads, and CUDA device, runtime and driver (driver via nvidia-smi's query,
    which only reads; empty where there is no GPU). ``threads``: the tests' thread count
    where this process ran none (pytest-xdist's controller); else this process's own."""
    import torch

    info = {
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads() if threads is None else threads,
        "cuda": None,
    }
    if torch.cuda.is_available():
        info["cuda"] = {
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "runtime": torch.version.cuda,
            "driver": _nvidia_driver(),
        }
    return info


def _nvidia_driver() -> str | None:
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else None


def devices_seen() -> list[str]:
    return ["cpu", cuda_description()]


def header_lines(devices: bool = True) -> list[str]:
    """The report header: versions; then the devices and torch's threads, unless
    ``devices`` is False (pytest-xdist's controller, which runs no test: importing torch
    there only to name them kept the workers from starting for 1.2 s; each worker hands
    its ``device_lines`` to it, and the root conftest prints them when the run ends)."""
    v = versions()
    lines = [
        "pytorch-notes-spec: "
        + ", ".join(f"{name} {version}" for name, version in v.items() if name != "pytest")
    ]
    if devices:
        lines += device_lines()
    else:
        lines.append("devices and torch threads: as each worker sees them, when the run ends")
    return lines


def device_lines() -> list[str]:
    import torch

    return [
        f"devices: cpu ({platform.machine()}), {cuda_description()}",
        f"torch threads: {torch.get_num_threads()} (TORCH_NUM_THREADS; default 1)",
    ]


def hypothesis_profiles(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, dict[str, Any]]:
    """Profiles from ``[tool.spec.hypothesis-profiles.NAME]`` in pyproject.toml.

    ``deadline = "none"`` means no deadline (TOML has no null).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    profiles = data.get("tool", {}).get("spec", {}).get("hypothesis-profiles", {})
    out: dict[str, dict[str, Any]] = {}
    for name, options in profiles.items():
        opts = dict(options)
        if str(opts.get("deadline", "")).lower() == "none":
            opts["deadline"] = None
        out[name] = opts
    return out
