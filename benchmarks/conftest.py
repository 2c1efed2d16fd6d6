"""The timed cases need pytest-benchmark; on a host without it they are not collected
(the harness tests still run)."""

import math

import pytest

try:
    import pytest_benchmark  # noqa: F401
except ImportError:  # e.g. a bare GPU host: skip the directory rather than fail collection
    collect_ignore_glob = ["test_training_core.py"]


@pytest.fixture(scope="session")
def smoke(request) -> bool:
    """True under --benchmark-disable (make test): each case runs once, small."""
    return bool(request.config.getoption("benchmark_disable", default=False))


@pytest.fixture(scope="session")
def matmul_peak(smoke):
    """Measured matmul GFLOP/s per device, CPU thread count and precision (float32, or
    bfloat16 for bf16 variants), once per session (not in smoke runs): the roofline that
    '% of floor' compares against."""
    import torch

    # imported here, not at the top: the xdist controller loads this conftest too, and
    # cores brings torchvision and triton (2 CPU-s) into a process that runs no test
    from benchmarks import cores

    cache: dict[tuple[str, int, str], float] = {}

    def get(device: str, bf16: bool = False) -> float:
        if smoke:
            return math.nan
        dtype = torch.bfloat16 if bf16 else torch.float32
        key = (device, torch.get_num_threads(), str(dtype))
        if key not in cache:
            size = 4096 if device == "cuda" else 1024
            cache[key] = cores.matmul_peak_gflops(device, size=size, dtype=dtype)
        return cache[key]

    return get
