"""Real faults for the checkpoint guarantees: a small disk, failing system calls, kills,
concurrent writers. The fault chapter (spec/guarantees/07_checkpoint_faults.py) reads it.

- ``small_disk``: a tmpfs the test mounts, with a size and an inode count — a real full
  disk (``open`` fails with ENOSPC when no inode is left, ``write`` when no block is).
  Mounting needs root (CI and the project's machines run as root); elsewhere the test
  is skipped, saying why.
- ``python -m spec.helpers.faults syscalls|kills|concurrent DIR ...``: the child processes
  that inject the other faults and print what they saw as one JSON object. They load the
  implementation under test through ``SPEC_IMPL`` like every child a test starts.
  ``syscalls`` runs under libfiu's ``fiu-run -x`` (Debian's ``fiu-utils``), which preloads
  its POSIX wrappers; the failures are driven through libfiu's C API with ctypes, so the
  k-th call of one kind fails with a chosen errno (libfiu's Python binding cannot set
  the errno of an externally decided failure).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

#: The failure points of one save, as libfiu names its POSIX wrappers; ``write/reduce``
#: makes a write shorter than asked (not an error: the caller must write the rest).
SAVE_POINTS = (
    "posix/io/oc/open",
    "posix/io/rw/write",
    "posix/io/rw/write/reduce",
    "posix/io/sync/fsync",
    "posix/io/dir/rename",
    "posix/io/oc/close",
)
#: The failure points of one load.
LOAD_POINTS = ("posix/io/oc/open", "posix/io/rw/read", "posix/io/rw/pread", "posix/io/oc/close")
#: The failure points of a hub download into its cache, and the load after it.
HUB_POINTS = ("posix/io/oc/open", "posix/io/rw/read", "posix/io/rw/write", "posix/io/dir/rename",
              "posix/io/oc/close")  # fmt: skip


@contextlib.contextmanager
def small_disk(where: Path, size: str = "1m", inodes: int | None = None) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (and ``inodes`` inodes, the root directory being one) on
    ``where``; unmount it after. Skips the test where mounting is not possible."""
    import pytest

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


def fiu_missing() -> str | None:
    """Why the system-call faults cannot run here, or None."""
    if shutil.which("fiu-run") is None:
        return "libfiu's fiu-run is not installed (Debian: apt-get install fiu-utils)"
    try:
        ctypes.CDLL("libfiu.so.0")
    except OSError as e:
        return f"libfiu's library does not load: {e}"
    return None


# ------------------------------------------------------------------ in the child processes
def _checkpoint():
    from spec.helpers.implementation import current

    return current().module("checkpoint")


def states(n: int = 4096) -> dict[str, dict]:
    """Distinct small checkpoints, by name: each is one tensor filled with its number."""
    import torch

    return {f"s{i}": {"w": torch.full((n,), float(i))} for i in range(1, 9)}


def which(path: Path, known: dict[str, dict]) -> str:
    """What ``path`` holds: the name of a known state, 'absent', or 'other: ...'."""
    import torch

    if not path.exists():
        return "absent"
    try:
        loaded = _checkpoint().load_checkpoint(path)
    except Exception as e:
        return f"other: {type(e).__name__}: {e}"
    for name, state in known.items():
        if loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state):
            return name
    return "other: a checkpoint of none of the states saved"


def leftovers(directory: Path, keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


class Fiu:
    """libfiu's C API through ctypes: fail the k-th call of one point with an errno."""

    CALLBACK = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_uint),
    )  # fmt: skip

    def __init__(self):
        self.lib = ctypes.CDLL("libfiu.so.0")
        self.lib.fiu_enable_external.argtypes = [
            ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, self.CALLBACK
        ]  # fmt: skip
        self.lib.fiu_disable.argtypes = [ctypes.c_char_p]
        self.lib.fiu_init(0)

    @contextlib.contextmanager
    def failing(self, point: str, k: int, code: int = errno.EIO) -> Iterator[list[int]]:
        """Within the block, the k-th call of ``point`` fails with ``code`` (k = 0: none
        fails); yields the count of calls, one element."""
        calls = [0]

        @self.CALLBACK
        def decide(name, failnum, failinfo, flags):
            calls[0] += 1
            return 1 if calls[0] == k else 0

        self.lib.fiu_enable_external(point.encode(), 1, ctypes.c_void_p(code), 0, decide)
        try:
            yield calls
        finally:
            self.lib.fiu_disable(point.encode())


def _attempt(operation) -> dict:
    try:
        operation()
        return {"raised": None}
    except BaseException as e:
        return {"raised": type(e).__name__, "message": str(e), "errno": getattr(e, "errno", None)}


def each_fault(fiu: Fiu, point: str, prepare, operation):
    """SQLite's loop for one failure point: run ``operation`` once to count its calls of
    ``point``, then again failing the 1st, the 2nd, ... call; ``prepare()`` before every
    run. Yields ``(k, calls, outcome)`` for each fault."""
    k, calls = 0, 0
    while k <= calls:
        prepare()
        with fiu.failing(point, k) as seen:
            outcome = _attempt(operation)
        if k == 0:
            calls = seen[0]
        else:
            yield k, calls, outcome
        k += 1


def syscalls(directory: Path) -> dict:
    """Each failure point of a save (over an old file, and with none), of a load and of a
    hub download, its k-th call failed in turn for every k: what each fault left."""
    checkpoint, fiu = _checkpoint(), Fiu()
    known = states()
    path = directory / "ckpt.pth"
    faults = []

    for previous in ("s1", None):

        def reset(previous=previous):
            path.unlink(missing_ok=True)
            if previous:
                checkpoint.save_checkpoint(known[previous], path)

        for point in SAVE_POINTS:
            save = lambda: checkpoint.save_checkpoint(known["s2"], path)  # noqa: E731
            for k, n, outcome in each_fault(fiu, point, reset, save):
                faults.append({"operation": "save", "previous": previous, "point": point,
                               "k": k, "calls": n, **outcome, "holds": which(path, known),
                               "left": leftovers(directory, path.name)})  # fmt: skip
    checkpoint.save_checkpoint(known["s3"], path)
    got: dict = {}

    def right(expected) -> bool:  # what a call returned, if it returned, is what was saved
        return "w" not in got or bool((got.pop("w") == expected["w"]).all())

    for point in LOAD_POINTS:
        load = lambda: got.update(w=checkpoint.load_checkpoint(path)["w"])  # noqa: E731
        for k, n, outcome in each_fault(fiu, point, got.clear, load):
            faults.append({"operation": "load", "point": point, "k": k, "calls": n, **outcome,
                           "returned_right_data": right(known["s3"]),
                           "holds": which(path, known)})  # fmt: skip
    source = directory / "server" / "net.pth"
    source.parent.mkdir()
    checkpoint.save_checkpoint(known["s4"], source)
    cache = directory / "hub"

    def empty_cache():
        got.clear()
        shutil.rmtree(cache, ignore_errors=True)

    def download():
        got.update(w=checkpoint.load_state_dict_from_url(source.as_uri(), model_dir=cache)["w"])

    for point in HUB_POINTS:
        for k, n, outcome in each_fault(fiu, point, empty_cache, download):
            kept = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
            faults.append({"operation": "hub", "point": point, "k": k, "calls": n, **outcome,
                           "returned_right_data": right(known["s4"]), "left": kept,
                           "holds": which(cache / "net.pth", known)})  # fmt: skip
    return {"faults": faults}


def kills(directory: Path, count: int, seed: int) -> dict:
    """``count`` saves, each in a forked child SIGKILLed at a random moment of it (or
    after it ended): what the path held after each kill, and what temporaries stayed."""
    import torch

    checkpoint, rng = _checkpoint(), random.Random(seed)
    known = states(1 << 20)  # 4 MiB each: a save takes some milliseconds, mostly writing
    path = directory / "ckpt.pth"
    checkpoint.save_checkpoint(known["s1"], path)
    torch.set_num_threads(1)

    def timed_save(name: str) -> float:
        start = time.perf_counter()
        checkpoint.save_checkpoint(known[name], path)
        return time.perf_counter() - start

    took = sorted(timed_save("s1") for _ in range(5))[2]  # the median save
    results, previous = [], "s1"
    for i in range(count):
        name = f"s{2 + i % 7}"
        delay = rng.uniform(0, 1.25 * took)  # most kills land inside the save
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: say "starting", save, leave without any cleanup
            try:
                os.write(ready_w, b"s")
                checkpoint.save_checkpoint(known[name], path)
            finally:
                os._exit(0)
        os.read(ready_r, 1)
        os.close(ready_r)
        os.close(ready_w)
        time.sleep(delay)
        mid_write = any(f".{pid}." in name for name in leftovers(directory, path.name))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status)
        holds = which(path, known)
        results.append({"delay_s": delay, "killed": killed, "mid_write": mid_write,
                        "previous": previous, "saving": name, "holds": holds})  # fmt: skip
        if holds in known:
            previous = holds
    stale = leftovers(directory, path.name)
    checkpoint.save_checkpoint(known["s1"], path)
    return {"median_save_s": took, "kills": results, "stale_before_last_save": stale,
            "left_after_last_save": leftovers(directory, path.name),
            "holds_after_last_save": which(path, known)}  # fmt: skip


def concurrent(directory: Path, writers: int, readers: int, rounds: int) -> dict:
    """``writers`` forked processes each save their own state ``rounds`` times to one
    path while ``readers`` processes load it again and again: what every load returned,
    how every save ended, what the path holds at the end."""
    import torch

    torch.set_num_threads(1)
    checkpoint = _checkpoint()
    known = states(1 << 16)
    path = directory / "ckpt.pth"
    checkpoint.save_checkpoint(known["s1"], path)
    report_dir = directory.with_name(directory.name + "-reports")
    report_dir.mkdir(exist_ok=True)

    def child(role: str, i: int) -> None:
        seen: dict[str, int] = {}
        if role == "writer":
            for _ in range(rounds):
                try:
                    checkpoint.save_checkpoint(known[f"s{2 + i}"], path)
                    seen["saved"] = seen.get("saved", 0) + 1
                except Exception as e:
                    seen[f"failed: {type(e).__name__}: {e}"] = 1
        else:
            while not (report_dir / "writers-done").exists():
                held = which(path, known)
                seen[held] = seen.get(held, 0) + 1
        (report_dir / f"{role}-{i}.json").write_text(json.dumps(seen))

    pids = {}
    for role, n in (("reader", readers), ("writer", writers)):
        for i in range(n):
            pid = os.fork()
            if pid == 0:
                try:
                    child(role, i)
                finally:
                    os._exit(0)
            pids[pid] = role
    for pid, role in pids.items():
        if role == "writer":
            os.waitpid(pid, 0)
    (report_dir / "writers-done").touch()
    for pid, role in pids.items():
        if role == "reader":
            os.waitpid(pid, 0)
    seen = {p.stem: json.loads(p.read_text()) for p in sorted(report_dir.glob("*-*.json"))}
    return {"seen": seen, "holds": which(path, known), "written": [f"s{2 + i}" for i in
            range(writers)], "left": leftovers(directory, path.name)}  # fmt: skip


def main(argv: list[str]) -> int:
    mode, directory, *rest = argv
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if mode == "syscalls":
        result = syscalls(directory)
    elif mode == "kills":
        result = kills(directory, int(rest[0]), int(rest[1]))
    elif mode == "concurrent":
        result = concurrent(directory, *map(int, rest))
    else:
        raise SystemExit(f"unknown mode {mode!r}: syscalls, kills or concurrent")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
