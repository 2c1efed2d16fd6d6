"""Code that must run where something happens for the first time in a process.

Some of PyTorch's behaviour is per process: a ``TORCH_WARN_ONCE`` warning shows only
the first time. A test of it needs a process in which that first time has not happened.
A new interpreter is such a process, but costs seconds (torch is imported again). A child
forked from the test's own process costs milliseconds, and is such a process too,
unless the test's process already did the thing. ``first_time_output`` tries the fork
first, and falls back on a new interpreter when the output shows the fork was not fit.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO


def forked_output(code: str, timeout: float = 120) -> str:
    """The standard output of ``code`` run by ``exec`` in a child forked from this process.

    Code that raises: ``RuntimeError`` here, with the child's output and traceback. A
    child still running after ``timeout`` seconds is killed: ``TimeoutError``. The child
    never returns into the caller's code (it leaves with ``os._exit``), and neither may
    the processes the code forks."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: writes its output and exits, whatever happens
        status = 0
        out = StringIO()
        try:
            os.close(read_end)
            with redirect_stdout(out):
                exec(compile(code, "<forked>", "exec"), {"__name__": "__forked__"})
        except BaseException:
            out.write(traceback.format_exc())
            status = 1
        finally:
            os.write(write_end, out.getvalue().encode())
            os._exit(status)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise TimeoutError(f"the forked code ran past {timeout} s and was killed")
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    output = b"".join(chunks).decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the forked code failed:\n{output}")
    return output


def new_interpreter_output(code: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout


def first_time_output(code: str, *, already_happened: Callable[[str], bool]) -> tuple[str, str]:
    """(the output of ``code``, where it ran: "a forked child" or "a new interpreter").

    ``already_happened(output)`` says whether the output shows that the forked child had
    already seen what ``code`` measures (inherited from this process); then ``code`` runs
    again in a new interpreter, and that output is returned."""
    if hasattr(os, "fork"):
        output = forked_output(code)
        if not already_happened(output):
            return output, "a forked child"
    return new_interpreter_output(code), "a new interpreter"
