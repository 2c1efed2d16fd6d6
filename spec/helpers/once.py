"""Files made once per run, whichever pytest-xdist worker asks first; models once per process.

A module- or session-scoped fixture runs once per worker: with two workers sharing a
module, an expensive one (a child process, a training run) runs twice. ``shared_folder``
makes the folder once per run, under a lock, and hands every worker the same one
(the pattern of pytest-xdist's documentation). Without xdist it is a plain temporary
folder of this run.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

T = TypeVar("T")

#: The run's own folder under pytest-xdist (the controller's base temp), set by the root
#: conftest in each worker. A session nested in a worker (the spec's proofs of itself)
#: has a base temp of its own; through this it shares the run's folders too, instead of
#: writing the CIFAR-10 and MNIST sets again in every worker.
RUN_ROOT: Path | None = None


def shared_folder(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``root/name``, filled by ``make(folder)`` exactly once in this run.

    ``make`` writes into the folder it is given; a make that fails leaves no folder, so
    the next worker tries again (and fails the same way, with its own traceback)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name, numbered=True)
        make(folder)
        return folder
    # under xdist every worker's base temp is a folder of the run's own: share that one
    root = RUN_ROOT or tmp_path_factory.getbasetemp().parent
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


#: What ``built_once`` built, by the builder's module and name: a chapter imported again
#: by a nested session defines its builder anew, and still finds what was built.
_BUILT: dict[tuple[str, str], object] = {}


def built_once(make: Callable[[], T]) -> Callable[[], T]:
    """``make()`` run the first time this process asks for it; every call returns a deep
    copy, so no caller sees what another changed. For a model that each nested session
    of the spec needs again: drawing torchvision's VGG16's 138 M random weights takes
    0.9 s on the 2-core machine, copying them 0.2 s."""

    @functools.wraps(make)
    def copy_of_the_one_built() -> T:
        key = (make.__module__, make.__qualname__)
        if key not in _BUILT:
            _BUILT[key] = make()
        return copy.deepcopy(_BUILT[key])  # type: ignore[return-value]

    return copy_of_the_one_built
