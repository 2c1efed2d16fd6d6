"""清除GPU存储 — clearing GPU memory, and what ``torch.cuda.empty_cache()`` really does.

PyTorch's caching allocator keeps freed blocks *reserved* for reuse. After ``del x``:

- ``memory_allocated()`` drops (the tensor's block is free for PyTorch to reuse);
- ``memory_reserved()`` does not (the block stays with this process, and
  ``nvidia-smi`` still shows it as used);
- ``empty_cache()`` returns unused cached blocks to the driver. It never frees memory
  held by live tensors.

After Ctrl-C, memory stays used only while the process is alive: end it (``ps``,
``kill``), as the note says. The note's other suggestion, ``nvidia-smi --gpu-reset``,
resets the whole device: it needs root, fails while any process uses the GPU, and on a
shared machine kills other people's work. This project never runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MemoryReport:
    """What ``memory_report`` returns: three byte counts of one CUDA device."""

    allocated: int  # bytes in live tensors
    reserved: int  # bytes held by the caching allocator (allocated + cached)
    peak_allocated: int  # high-water mark since the last reset_peak_memory_stats()

    def __str__(self) -> str:
        mib = 1024**2
        return (
            f"allocated {self.allocated / mib:.1f} MiB, reserved {self.reserved / mib:.1f} MiB, "
            f"peak {self.peak_allocated / mib:.1f} MiB"
        )


def memory_report(device: torch.device | str | int | None = None) -> MemoryReport:
    """Allocated, reserved and peak bytes on a CUDA device, as a ``MemoryReport``.

    Note: "在PyTorch内部可以`torch.cuda.empty_cache()`"

    Without CUDA it raises ``RuntimeError`` saying so, rather than reporting zeros.
    """
    if not torch.cuda.is_available():
        raise RuntimeError("memory_report needs a CUDA device; torch.cuda.is_available() is False")
    return MemoryReport(
        allocated=torch.cuda.memory_allocated(device),
        reserved=torch.cuda.memory_reserved(device),
        peak_allocated=torch.cuda.max_memory_allocated(device),
    )


def release_cached_memory() -> None:
    """Hand cached, unused blocks back to the driver; a no-op without CUDA.

    Note: "在PyTorch内部可以`torch.cuda.empty_cache()`"
    """
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
