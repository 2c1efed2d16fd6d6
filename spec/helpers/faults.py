"""Real faults for the checkpoint guarantees: a small disk the test mounts.

A tmpfs with a size and an inode count is a real full disk: ``open`` fails with ENOSPC when
no inode is left, ``write`` when no block is. Mounting needs root (CI and the project's
machines run as root); elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(where: Path, size: str = "1m", inodes: int | None = None) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (and ``inodes`` inodes, the root directory being one) on
    ``where``; unmount it after. Skips the test where mounting is not possible."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8): run as root to fill a disk")
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes is not None else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on {where}: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)
