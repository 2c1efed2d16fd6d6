"""Clearing GPU memory: torch.cuda's counters read as the note's section suggests."""

from collections import namedtuple

import torch

MemoryReport = namedtuple("MemoryReport", "allocated reserved peak_allocated")


def memory_report(device=None):
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: torch.cuda.is_available() is False")
    return MemoryReport(
        torch.cuda.memory_allocated(device),
        torch.cuda.memory_reserved(device),
        torch.cuda.max_memory_allocated(device),
    )


def release_cached_memory():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
