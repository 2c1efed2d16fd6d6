"""The learner's loop kept warm: libraries imported once, each check in a fresh fork.

Nearly all of a chapter's few seconds is importing torch, torchvision and pytest's
plugins. ``make watch`` therefore starts one process that imports them (``preload``) and
never imports the learner's code; each check runs in a child forked from it
(``run_forked``): a pytest session in a process that already has the libraries, where the
learner's modules are imported for the first time, from their source (never a stale
cache: ``spec.helpers.implementation.SourceOnlyLoader``). A change to the spec, to the
project's configuration or to the installed packages restarts the warm process
(``Watcher.restart_needed``), so it never runs a check with code it loaded before.

Files are watched by polling their (path, size, modification time): a learner's folder
is a handful of files, and a process that forks must not have a watcher thread running
(a thread holding a lock at the fork leaves the child waiting on it forever).

Where ``os.fork`` does not exist (Windows), each check runs in a child interpreter, as a
cold ``make next`` does.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A change to any of these restarts the warm process: the spec's own code and configuration,
#: and the installed packages (the venv's stamp, the site-packages folder's entries).
SPEC_FILES = ("spec", "conftest.py", "pyproject.toml", "requirements.lock")
#: How often the folders are looked at, and how long a change must hold still before a
#: check starts (an editor's save can be several writes).
POLL_S = 0.05
SETTLE_S = 0.03

Snapshot = frozenset[tuple[str, int, int]]


# ----------------------------------------------------------------------------- preloading
def preload(args: list[str]) -> tuple[int, str]:
    """Collect the tests of ``args`` (a chapter run's pytest arguments) in this process,
    running none: pytest imports the libraries, its plugins, the conftest and the
    chapters as a run does, assertion rewriting included, so that a session forked from
    here behaves as a cold one. The implementation under test is the reference for this
    collection: the learner's code is imported only in the forked sessions.

    Returns pytest's exit code and what it printed (0 and a list of tests when all went
    well)."""
    import pytest

    printed = io.StringIO()
    wanted = [*strip_option(args, "--impl", "--run-report"), "--collect-only", "--impl",
              "reference"]  # fmt: skip
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = int(pytest.main(wanted))
    return code, printed.getvalue()


def strip_option(args: list[str], *options: str) -> list[str]:
    """``args`` without the ``options`` that take a value, and their values."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in options)):
            out.append(arg)
    return out


def imported_from(folder: Path) -> list[str]:
    """The modules of ``sys.modules`` loaded from ``folder``: the warm process must have
    none of the learner's code, or a check would run what it was when first imported."""
    root = str(folder.resolve())
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").startswith(root + os.sep)
    )


# ----------------------------------------------------------------------------- one check
def run_forked(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> int:
    """``pytest ARGS`` in a child forked from this process, with ``env`` added to its
    environment and ``cwd`` as its folder; the child's exit status. Where there is no
    fork, a child interpreter runs it."""
    if not hasattr(os, "fork"):
        command = [sys.executable, "-m", "pytest", *args]
        return subprocess.run(command, cwd=cwd, env={**os.environ, **env}, check=False).returncode
    sys.stdout.flush()
    sys.stderr.flush()
    # What the warm process holds is set aside from the garbage collector before the
    # fork (as the gc module's documentation advises for a fork server): the child's
    # collections, pytest's at the session's end among them, walk only what the check
    # made, and leave the parent's pages unwritten.
    gc.freeze()
    pid = os.fork()
    if pid:
        gc.unfreeze()
    if pid == 0:  # the child: never returns into the caller's code
        status = 70  # EX_SOFTWARE, should anything below fail before pytest answers
        try:
            os.environ.update(env)
            os.chdir(cwd)
            import pytest

            status = int(pytest.main(args))
        except SystemExit as done:
            status = done.code if isinstance(done.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


# ----------------------------------------------------------------------------- watching
def snapshot(paths: Iterable[Path], suffixes: tuple[str, ...] = (".py",)) -> Snapshot:
    """(path, size, modification time in ns) of every file with one of ``suffixes`` under
    ``paths`` (files or folders), caches left out: a save, a new file and a deleted one
    each change it."""
    seen = set()
    for path in paths:
        if path.is_file():
            files: Iterable[Path] = [path]
        elif path.is_dir():
            files = (p for p in path.rglob("*") if p.suffix in suffixes)
        else:
            continue
        for file in files:
            if "__pycache__" in file.parts:
                continue
            try:
                st = file.stat()
            except OSError:  # deleted between the listing and the look
                continue
            seen.add((str(file), st.st_size, st.st_mtime_ns))
    return frozenset(seen)


def packages_stamp() -> tuple[int, ...]:
    """Changes when a package is installed, upgraded or removed: the site-packages
    folders' own modification times (an entry added or removed) and the venv's set-up
    stamp (the Makefile's)."""
    folders = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    stamps = []
    for folder in sorted(folders):
        try:
            stamps.append(os.stat(folder).st_mtime_ns)
        except OSError:
            stamps.append(0)
    stamp_file = Path(sys.prefix) / ".installed-from-lock"
    stamps.append(stamp_file.stat().st_mtime_ns if stamp_file.exists() else 0)
    return tuple(stamps)


class Watcher:
    """Tells when the learner's folder changed (and when it settled), and when the warm
    process must restart."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.seen = snapshot([folder])
        self.spec_seen = self._spec_state()

    def _spec_state(self) -> tuple:
        return snapshot([ROOT / name for name in SPEC_FILES], (".py", ".toml", ".lock")), (
            packages_stamp()
        )

    def changed(self) -> bool:
        """Did a file of the folder change since the last call that said so? Waits until
        the folder holds still for ``SETTLE_S`` first."""
        now = snapshot([self.folder])
        if now == self.seen:
            return False
        while True:
            time.sleep(SETTLE_S)
            later = snapshot([self.folder])
            if later == now:
                break
            now = later
        self.seen = now
        return True

    def last_saved(self) -> float:
        """When a file of the folder was last written, on the wall clock (``time.time``)."""
        return max((mtime for _, _, mtime in self.seen), default=0) / 1e9

    def restart_needed(self) -> bool:
        return self._spec_state() != self.spec_seen


def restart() -> None:
    """Replace this process with a fresh one with the same command line."""
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
