"""清除GPU存储 — clearing GPU memory: what del, empty_cache and the caching allocator do."""

import ast
from pathlib import Path

import pytest
import torch

from spec.helpers import teach
from spec.helpers.devices import needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.teach import say

gpu_memory = impl.gpu_memory

MIB = 1024**2
RESET_FLAG = "--gpu" + "-reset"  # spelt in two parts so this file does not match itself


@pytest.fixture
def clean_cuda():
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    yield
    torch.cuda.empty_cache()


@needs_cuda
def test_del_lowers_allocated_but_not_reserved_until_empty_cache(clean_cuda):
    """After del, memory_allocated() drops but memory_reserved() stays until torch.cuda.empty_cache().

    Note: "在PyTorch内部可以`torch.cuda.empty_cache()`"

    The caching allocator keeps the freed 64 MiB block for reuse; nvidia-smi keeps
    showing it as used until empty_cache hands it back.
    """
    start = gpu_memory.memory_report()
    x = torch.empty(64 * MIB, dtype=torch.uint8, device="cuda")
    held = gpu_memory.memory_report()
    assert held.allocated - start.allocated >= 64 * MIB, say(
        "memory_report() after a 64 MiB tensor",
        "allocated up by 64 MiB",
        held.allocated - start.allocated,
    )
    del x
    after_del = gpu_memory.memory_report()
    assert after_del.allocated == start.allocated, say(
        "memory_report() after del x",
        "allocated back where it started",
        (start.allocated, after_del.allocated),
    )
    assert after_del.reserved == held.reserved, say(
        "memory_report() after del x",
        "reserved unchanged (still cached)",
        (held.reserved, after_del.reserved),
    )  # still cached
    gpu_memory.release_cached_memory()
    after_empty = gpu_memory.memory_report()
    assert after_empty.reserved <= held.reserved - 64 * MIB, say(
        "release_cached_memory()",
        "reserved down by the freed 64 MiB",
        (held.reserved, after_empty.reserved),
    )
    assert after_empty.peak_allocated >= 64 * MIB, say(
        "memory_report().peak_allocated", "at least the 64 MiB tensor", after_empty.peak_allocated
    )


@needs_cuda
def test_empty_cache_never_frees_memory_held_by_live_tensors(clean_cuda):
    """torch.cuda.empty_cache() leaves live tensors alone: their memory stays allocated and intact.

    Note: "有时Control-C中止运行后GPU存储没有及时释放，需要手动清空。"

    What frees a tensor's memory is dropping the last reference (or ending the process).
    """
    x = torch.full((16 * MIB // 4,), 3.0, device="cuda")
    before = gpu_memory.memory_report()
    gpu_memory.release_cached_memory()
    after = gpu_memory.memory_report()
    assert after.allocated == before.allocated, say(
        "release_cached_memory()",
        "live tensors untouched: allocated unchanged",
        (before.allocated, after.allocated),
    )
    assert after.reserved >= x.numel() * 4, say(
        "release_cached_memory()", "the live tensor's memory still reserved", after.reserved
    )
    assert bool((x == 3.0).all()), say(
        "release_cached_memory()", "the live tensor's values intact", x[:4].tolist()
    )


@needs_cuda
def test_the_memory_report_reads_allocated_reserved_and_peak(clean_cuda):
    """memory_report() gives allocated <= reserved, and a peak at least the largest allocation.

    Note: "在PyTorch内部可以`torch.cuda.empty_cache()`"
    """
    x = torch.empty(8 * MIB, dtype=torch.uint8, device="cuda")
    report = gpu_memory.memory_report()
    assert report.allocated <= report.reserved, say(
        "memory_report()", "allocated <= reserved", (report.allocated, report.reserved)
    )
    assert report.peak_allocated >= 8 * MIB, say(
        "memory_report().peak_allocated", "at least the 8 MiB tensor", report.peak_allocated
    )
    assert "allocated" in str(report), say(
        "str(memory_report())", "a line that names what it reports ('allocated')", str(report)
    )
    del x


def test_without_cuda_the_report_says_it_needs_cuda():
    """memory_report() on a machine without CUDA raises a clear error instead of reporting zeros.

    Note: "在PyTorch内部可以`torch.cuda.empty_cache()`"
    """
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU-only behaviour")
    # the reference's words are its own: any RuntimeError that names CUDA
    with teach.raises(RuntimeError, r"(?i)cuda", call="memory_report() without CUDA",
                      expects="a RuntimeError that names CUDA, not a report of zeros"):  # fmt: skip
        gpu_memory.memory_report()
    try:
        gpu_memory.release_cached_memory()  # a no-op without CUDA, never an error
    except NotImplementedError:
        raise
    except Exception as error:
        raise AssertionError(
            say("release_cached_memory() without CUDA", "nothing (a no-op)", repr(error),
                "call torch.cuda.empty_cache() without checking torch.cuda.is_available()?")
        ) from None  # fmt: skip


@pytest.mark.fact
def test_nothing_in_the_project_runs_nvidia_smi_gpu_reset():
    """The project never runs `nvidia-smi --gpu-reset`: it resets a device others may share.

    Note: "或者直接重置没有被清空的GPU`nvidia-smi --gpu-reset -i [gpu_id]`"

    Why not: a reset needs root, fails while any process uses the GPU, and on a shared
    machine destroys other people's work. Ending your own process (``kill``) frees its
    memory. This test scans every string constant in the project's Python code outside
    docstrings, so a command line that could run it cannot slip in.
    """
    root = Path(__file__).resolve().parents[2]
    offenders = []
    paths = [*root.glob("reference/*.py"), *root.glob("spec/**/*.py"), *root.glob("*.py")]
    assert len(paths) > 20, f"found only {len(paths)} files under {root}: wrong root?"
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and RESET_FLAG in node.value
                and id(node) not in docstrings
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
    # and the reason is written down, where the reference clears GPU memory
    assert RESET_FLAG in ast.get_docstring(
        ast.parse((root / "reference" / "gpu_memory.py").read_text())
    )


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
def test_a_memory_report_prints_in_mib():
    """A MemoryReport prints its three figures in MiB, one decimal.

    Beyond the note: the reference's summary of torch.cuda.memory_allocated/_reserved and the peak.
    """
    report = gpu_memory.MemoryReport(allocated=3 * MIB // 2, reserved=64 * MIB, peak_allocated=MIB)
    assert str(report) == "allocated 1.5 MiB, reserved 64.0 MiB, peak 1.0 MiB"


@pytest.mark.extra
def test_the_reference_says_memory_report_needs_a_cuda_device():
    """The reference's error names the call and the check that failed, in one line.

    Beyond the note: the words are the reference's own; any RuntimeError that names
    CUDA is what the chapter asks (test_without_cuda_the_report_says_it_needs_cuda).
    """
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU-only behaviour")
    with pytest.raises(RuntimeError, match=r"^memory_report needs a CUDA device; ") as error:
        gpu_memory.memory_report()
    assert str(error.value) == (
        "memory_report needs a CUDA device; torch.cuda.is_available() is False"
    )
