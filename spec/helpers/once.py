"""Files made once per run, whichever pytest-xdist worker asks first.

A module- or session-scoped fixture runs once per worker: with two workers sharing a
module, an expensive one (a child process, a training run) runs twice. ``shared_folder``
makes the folder once per run, under a lock, and hands every worker the same one
(the pattern of pytest-xdist's documentation). Without xdist it is a plain temporary
folder of this run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock


def shared_folder(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``root/name``, filled by ``make(folder)`` exactly once in this run.

    ``make`` writes into the folder it is given; a make that fails leaves no folder, so
    the next worker tries again (and fails the same way, with its own traceback)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name, numbered=True)
        make(folder)
        return folder
    # under xdist every worker's base temp is a folder of the run's own: share that one
    root = tmp_path_factory.getbasetemp().parent
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not folder.exists():
            partial = root / f"{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            try:
                make(partial)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            partial.rename(folder)
    return folder
