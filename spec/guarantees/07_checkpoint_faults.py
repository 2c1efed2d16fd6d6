"""Checkpoints under real faults — a full disk, failing system calls, kills, concurrent writers, mangled files.

Beyond the note: the note saves with ``torch.save(net.state_dict(), PATH)``; this is how
checkpoints are lost in practice — a full disk at hour ten, a preempted job, two ranks
saving to one path, a half-copied file — made to happen, each against the
implementation's ``checkpoint`` module (save, load, the hub path) and its resume script.
The promise after every fault: the path holds the old checkpoint or the new one,
complete, never anything else; a save that cannot complete raises one error naming the
path; nothing half-written is left behind; a load returns the right tensors or refuses.

The faults are real, not mocks: a tmpfs the test mounts and fills (root only), libfiu's
preloaded POSIX wrappers failing the k-th ``open``/``write``/``fsync``/``rename``/
``close`` of a save (as SQLite's I/O-error tests do), SIGKILL at random moments of a
save, several processes writing one path while others read it, and Hypothesis-made
mutations of valid files. Short counts run in ``make test``; ``--run-long`` (``make
faults``) runs the full ones. Each test records what it injected (the checklist's
figures; ``spec/guarantees/README.md`` has the table).
"""

import io
import json
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from spec.helpers import faults, implementation, processes
from spec.helpers.data import write_cifar
from spec.helpers.faults import small_disk
from spec.helpers.implementation import impl

#: The reference's own guarantee: the note saves with plain torch.save.
pytestmark = pytest.mark.extra

checkpoint = impl.checkpoint
resume = impl.resume

ROOT = Path(__file__).resolve().parents[2]
#: Kills and fuzzed files: the short counts of ``make test``, the full ones of --run-long.
KILLS, KILLS_LONG = 40, 500
FUZZ, FUZZ_LONG = 300, 10_000


def child(*args: str, under_fiu: bool = False, timeout: int = 300) -> dict:
    """``spec.helpers.faults ARGS`` in a process of its own: its JSON.

    Under ``fiu-run -x`` (a new interpreter: libfiu is preloaded at exec) when asked;
    otherwise a child forked from this process (the saves it kills are forked from that
    child in turn), which spares an import of torch."""
    if not under_fiu:
        code = f"from spec.helpers import faults\nfaults.main({list(args)!r})"
        output = processes.forked_output(code, timeout=timeout)
        return json.loads(output.strip().splitlines()[-1])
    command = ["fiu-run", "-x", sys.executable, "-m", "spec.helpers.faults", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def state(value: float, n: int) -> dict:
    return {"w": torch.full((n,), value)}


# ====================================================================== 1. a full disk
def test_a_save_bigger_than_the_free_space_fails_naming_the_path_and_keeps_the_old_file(tmp_path):
    """On a 1 MiB disk, a 4 MiB save fails naming the path (ENOSPC); the old checkpoint is byte-identical and loads; no temporary is left.

    The disk fills while the temporary file is written: the writes fail, not the rename.
    """
    import errno

    with small_disk(tmp_path / "disk", size="1m") as disk:
        path = disk / "ckpt.pth"
        checkpoint.save_checkpoint(state(1.0, 1000), path)
        before = path.read_bytes()
        with pytest.raises(OSError, match=f"{re.escape(str(path))}.*No space left") as raised:
            checkpoint.save_checkpoint(state(2.0, 1 << 20), path)
        assert raised.value.errno == errno.ENOSPC, raised.value
        assert str(raised.value) == (
            f"[Errno {errno.ENOSPC}] cannot save {path}: No space left on device (the previous "
            "checkpoint there is unchanged)"
        )  # the reference's wording: the path, the reason, what is left; no temporary's name
        assert path.read_bytes() == before
        assert torch.equal(checkpoint.load_checkpoint(path)["w"], state(1.0, 1000)["w"])
        assert [p.name for p in disk.iterdir()] == ["ckpt.pth"]


def test_a_disk_with_no_inode_left_fails_the_save_before_anything_is_written(tmp_path):
    """With no inode left for the temporary file, the save fails naming the path and the disk's error (ENOSPC); the old file stays.

    A tmpfs with two inodes: its root directory and the checkpoint. The error the caller
    sees is the one that stopped the save, not one raised while cleaning up after it.
    """
    import errno

    with small_disk(tmp_path / "disk", inodes=2) as disk:
        path = disk / "cifar_net.pth"
        checkpoint.save_checkpoint({"w": torch.arange(4.0)}, path)
        before = path.read_bytes()
        with pytest.raises(OSError, match=f"{re.escape(str(path))}.*No space left") as raised:
            checkpoint.save_checkpoint({"w": torch.arange(8.0)}, path)
        assert raised.value.errno == errno.ENOSPC, raised.value
        assert path.read_bytes() == before
        assert torch.equal(checkpoint.load_checkpoint(path)["w"], torch.arange(4.0))
        assert [p.name for p in disk.iterdir()] == ["cifar_net.pth"]


def test_a_first_save_on_a_full_disk_leaves_nothing(tmp_path):
    """With no previous checkpoint, a save that does not fit leaves no file at the path and no temporary."""
    with small_disk(tmp_path / "disk", size="1m") as disk:
        path = disk / "ckpt.pth"
        with pytest.raises(OSError, match=re.escape(str(path))) as raised:
            checkpoint.save_checkpoint(state(2.0, 1 << 20), path)
        assert str(raised.value).endswith("No space left on device (nothing written)")
        assert list(disk.iterdir()) == []


def test_the_hub_path_on_a_full_disk_fails_naming_the_cache_file_and_keeps_nothing(tmp_path):
    """A download into a full cache directory fails naming the cache file; no partial file stays to be loaded later."""
    server = tmp_path / "server"
    server.mkdir()
    source = server / "net.pth"
    torch.save(state(3.0, 1 << 20), source)  # 4 MiB
    with small_disk(tmp_path / "hub", size="1m") as hub:
        with pytest.raises(OSError, match=re.escape(str(hub / "net.pth"))):
            checkpoint.load_state_dict_from_url(source.as_uri(), model_dir=hub)
        assert list(hub.iterdir()) == []


def test_the_resume_script_on_a_full_disk_stops_with_one_line_naming_the_path(tmp_path, capsys):
    """``python -m reference.resume ... --out FULL/ckpt.pth`` exits 1 with one error line naming the path, and leaves nothing.

    The training runs (4 steps of the CIFAR net); only its checkpoint does not fit. The
    script's ``main`` runs in this process, as the command line calls it (a fresh process
    would spend its time importing torch; chapter G02 runs the script in one).
    """
    resume = implementation.current().module("resume")
    data = write_cifar(tmp_path / "data", n_train=16, n_test=4)
    threads = torch.get_num_threads()
    with small_disk(tmp_path / "disk", size="64k") as disk:
        out = disk / "ckpt.pth"
        capsys.readouterr()
        with torch.random.fork_rng(), pytest.raises(SystemExit) as stopped:
            resume.main([str(data), "--steps", "4", "--out", str(out)])
        torch.set_num_threads(threads)
        err = capsys.readouterr().err
        assert stopped.value.code == 1, err
        lines = err.splitlines()
        assert len(lines) == 1, repr(err)  # one line: no traceback, no blank line
        assert str(out) in lines[0], lines
        assert "No space left" in lines[0], lines
        assert list(disk.iterdir()) == []


# ================================================================ 2. failing system calls
@pytest.fixture(scope="module")
def syscall_faults(tmp_path_factory):
    why = faults.fiu_missing()
    if why:
        pytest.skip(why)
    return child("syscalls", str(tmp_path_factory.mktemp("fiu")), under_fiu=True)["faults"]


def test_every_failing_system_call_of_a_save_leaves_the_old_file_or_the_new_one(
    syscall_faults, record_property
):
    """Each open, write, fsync, rename and close of a save failed in turn (EIO), over an old file and with none: after every fault the path holds the old checkpoint or the new one, complete, and nothing else is left.

    SQLite's I/O-error loop: count the calls one save makes of each kind, then fail the
    1st, the 2nd, ... A failure the save can absorb (a short write, the directory's
    fsync) may end with the new file; any other raises.
    """
    saves = [f for f in syscall_faults if f["operation"] == "save"]
    assert len(saves) >= 20, f"only {len(saves)} faults injected: libfiu did not intercept?"
    record_property("save faults injected", len(saves))
    for f in saves:
        allowed = {"s1", "s2"} if f["previous"] else {"absent", "s2"}
        assert f["holds"] in allowed, f
        assert f["left"] == [], f"{f['point']} #{f['k']}: left {f['left']} behind"
        if f["raised"] is None:
            assert f["holds"] == "s2", f  # a save that returns has saved
        else:
            assert f["holds"] == (f["previous"] or "absent"), f  # one that raises has not
    raised = {f["point"] for f in saves if f["raised"]}
    for point in ("posix/io/oc/open", "posix/io/rw/write", "posix/io/sync/fsync",
                  "posix/io/dir/rename"):  # fmt: skip
        assert point in raised, f"no failure of {point} made a save fail"
    assert not any(f["raised"] for f in saves if f["point"].endswith("/reduce")), (
        "a short write is not an error: the rest must be written"
    )


def test_a_save_that_cannot_complete_raises_one_error_naming_the_path(syscall_faults):
    """Every failed save raises an OSError (with the injected errno) whose message names the destination path, not torch's own RuntimeError."""
    for f in syscall_faults:
        if f["operation"] == "save" and f["raised"]:
            assert f["errno"] == 5, f  # EIO, as injected: the system's reason is kept
            assert "cannot save" in f["message"], f
            assert "ckpt.pth: Input/output error (" in f["message"], f  # the system's reason
            assert ".tmp-" not in f["message"], f  # the path the caller gave, not a temporary


def test_a_load_whose_reads_fail_refuses_and_never_returns_wrong_tensors(
    syscall_faults, record_property
):
    """Each open, read and close of a load failed in turn: the load returns the saved tensors or raises the loader's own error naming the file; the file on disk is untouched."""
    loads = [f for f in syscall_faults if f["operation"] == "load"]
    assert loads, "no load faults injected"
    record_property("load faults injected", len(loads))
    for f in loads:
        assert f["returned_right_data"], f
        assert f["holds"] == "s3", f
        if f["raised"]:
            assert f["raised"] == "CheckpointError", f
            assert "ckpt.pth" in f["message"], f
            # a failed read is the disk's fault, said so, unless the bytes read so far no
            # longer make a zip (then it reads as a damaged file)
            assert ("reading it failed (Input/output error); the file itself may be intact"
                    in f["message"]) or "truncated or corrupted" in f["message"], f  # fmt: skip
    assert any("reading it failed" in (f.get("message") or "") for f in loads)


def test_a_hub_download_whose_system_calls_fail_keeps_no_partial_file(
    syscall_faults, record_property
):
    """Each open, read, write, rename and close of a hub download (and of the load after it) failed in turn: the cache holds nothing or the complete file, and what the call returns is right.

    A failure on the serving side (here opening the file:// source) is urllib's
    ``URLError``, the network's error, passed on as it is; any other is the loader's or
    the save's own error naming the cache file.
    """
    hub = [f for f in syscall_faults if f["operation"] == "hub"]
    assert hub, "no hub faults injected"
    record_property("hub faults injected", len(hub))
    for f in hub:
        assert f["returned_right_data"], f
        assert (f["left"], f["holds"]) in (([], "absent"), (["net.pth"], "s4")), f
        if f["raised"] not in (None, "URLError"):
            assert f["raised"] in ("CheckpointError", "CheckpointSaveError"), f
            assert "hub/net.pth" in f["message"], f


# ======================================================================== 3. random kills
def kill_run(tmp_path, count: int, seed: int, record_property):
    result = child("kills", str(tmp_path), str(count), str(seed), timeout=900)
    kills = result["kills"]
    for k in kills:
        assert k["holds"] in (k["previous"], k["saving"]), k  # complete, old or new
    assert result["left_after_last_save"] == [], result["left_after_last_save"]
    assert result["holds_after_last_save"] == "s1"
    mid = sum(k["mid_write"] for k in kills)
    record_property("kills", f"{len(kills)} ({mid} in mid-write), seed {seed}")
    # Where the kills land depends on the machine's load; the promise holds wherever.
    assert mid >= max(1, len(kills) // 10), f"only {mid} of {len(kills)} kills in mid-write"
    return kills


def test_a_save_killed_at_random_moments_always_leaves_a_complete_checkpoint(
    tmp_path, record_property
):
    """40 saves of 4 MiB, each SIGKILLed at a random moment (most in mid-write): the path always holds the previous checkpoint or the new one, complete; the next save clears what the killed ones left."""
    kills = kill_run(tmp_path, KILLS, seed=0, record_property=record_property)
    assert len(kills) == KILLS


@pytest.mark.long
def test_500_random_kills_always_leave_a_complete_checkpoint(tmp_path, record_property):
    """The full count: 500 saves SIGKILLed at random moments, each leaving a complete old or new checkpoint."""
    kills = kill_run(tmp_path, KILLS_LONG, seed=1, record_property=record_property)
    assert len(kills) == KILLS_LONG


# ====================================================== 4. concurrent writers and readers
def test_concurrent_writers_and_readers_see_only_complete_checkpoints(tmp_path, record_property):
    """3 processes save their own state 20 times each to one path while 2 others load it in a loop: every save succeeds, every load is one complete state, the final file is one of them."""
    result = child("concurrent", str(tmp_path / "shared"), "3", "2", "20")
    written = set(result["written"])
    for name, seen in result["seen"].items():
        if name.startswith("writer"):
            assert seen == {"saved": 20}, (name, seen)
        else:
            assert set(seen) <= written | {"s1"}, (name, seen)  # no torn or failed load
    assert result["holds"] in written
    assert result["left"] == []
    loads = sum(sum(s.values()) for n, s in result["seen"].items() if n.startswith("reader"))
    record_property("concurrent", f"60 saves by 3 writers, {loads} loads by 2 readers")


# ========================================================================= 5. fuzzed files
class Payload:
    """Unpickled, it would create the marker file: proof that no mangled file runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def rezip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip with valid CRCs: the mangling reaches the loader's layers below the CRC check."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicated name: on purpose
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return out.getvalue()


def huge(claim: int) -> bytes:
    return b"J" + struct.pack("<i", claim)  # pickle's BININT


@st.composite
def mangled(draw, originals: dict[str, bytes]):
    """(how it was mangled, the bytes): flips, truncations, zip members renamed,
    duplicated or resized, pickle opcodes changed, a storage claiming a huge size."""
    base = draw(st.sampled_from(sorted(originals)))
    data = originals[base]
    members = list(members_of(data).items())
    kind = draw(st.sampled_from(["flip", "truncate", "rename", "duplicate", "resize",
                                 "opcode", "huge"]))  # fmt: skip
    if kind == "flip":
        flips = draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=8))
        out = bytearray(data)
        for bit in flips:
            out[bit // 8] ^= 1 << (bit % 8)
        return f"{base}: flip bits {flips}", bytes(out)
    if kind == "truncate":
        n = draw(st.integers(0, len(data) - 1))
        return f"{base}: truncated to {n} bytes", data[:n]
    i = draw(st.integers(0, len(members) - 1))
    name, content = members[i]
    if kind == "rename":
        new = draw(st.sampled_from([n for n, _ in members] + [name + "x", "archive/data/9"]))
        members[i] = (new, content)
        return f"{base}: {name} renamed {new}", rezip(members)
    if kind == "duplicate":
        other = draw(st.binary(max_size=64))
        return f"{base}: {name} duplicated", rezip([*members, (name, other or content)])
    if kind == "resize":
        n = draw(st.integers(0, 2 * len(content) + 8))
        resized = (content * 3)[:n] if content else b"\0" * n
        members[i] = (name, resized)
        return f"{base}: {name} resized to {n} bytes", rezip(members)
    pkl_index = next(j for j, (n, _) in enumerate(members) if n.endswith("data.pkl"))
    pkl_name, pkl = members[pkl_index]
    if kind == "opcode":
        at = draw(st.integers(0, len(pkl) - 1))
        opcode = draw(st.sampled_from([op.code.encode("latin-1") for op in
                                       __import__("pickletools").opcodes]))  # fmt: skip
        members[pkl_index] = (pkl_name, pkl[:at] + opcode + pkl[at + 1 :])
        return f"{base}: data.pkl byte {at} -> opcode {opcode!r}", rezip(members)
    # "huge": every small int of the pickle (numel, sizes, strides) may become a huge one
    claim = draw(st.sampled_from([2**31 - 1, 2**30, 2**24 + 1]))
    spots = [m.start() for m in re.finditer(rb"K[\x01-\xff]", pkl)]
    at = draw(st.sampled_from(spots))
    members[pkl_index] = (pkl_name, pkl[:at] + huge(claim) + pkl[at + 2 :])
    return f"{base}: data.pkl int at {at} claims {claim}", rezip(members)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Valid files to mangle: a state dict like the note's, and one carrying a payload."""
    marker = tmp_path_factory.mktemp("fuzz") / "payload-ran"
    files = {}
    for name, obj in (("state dict", {"conv.weight": torch.randn(6, 3, 5, 5),
                                      "conv.bias": torch.zeros(6, dtype=torch.float64),
                                      "steps": torch.tensor(7)}),
                      ("payload", {"w": torch.ones(3), "p": Payload(marker)})):  # fmt: skip
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        files[name] = buffer.getvalue()
    return files, marker


class LoadTookTooLong(Exception):
    pass


def fuzz(originals, examples: int, record_property) -> dict[str, int]:
    files, marker = originals
    counts = {"loaded": 0, "refused": 0}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def alarm(signum, frame):
        raise LoadTookTooLong

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=mangled(files))
    def one(case):
        how, data = case
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, 10.0)  # a load never hangs
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                checkpoint.load_bytes(data, name="mangled.pth")
            counts["loaded"] += 1
        except checkpoint.CheckpointError:
            counts["refused"] += 1
        except LoadTookTooLong:
            pytest.fail(f"{how}: the load took more than 10 s")
        except Exception as e:
            pytest.fail(f"{how}: raised {type(e).__name__}: {e}, not the loader's own error")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert not marker.exists(), f"{how}: the payload ran"

    one()
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    record_property(
        "fuzzed files", f"{sum(counts.values())}: {counts}, peak RSS +{grown_mib:.0f} MiB"
    )
    # A header claiming 8 GiB is checked against the file before anything is allocated.
    assert grown_mib < 512, f"loading mangled files grew the process by {grown_mib:.0f} MiB"
    return counts


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_mangled_checkpoints_are_refused_by_the_loader_and_never_run_code(
    originals, record_property
):
    """300 Hypothesis-mangled files (bit flips, truncations, zip members renamed, duplicated or resized with valid CRCs, pickle opcodes changed, sizes claiming gigabytes): each loads or raises the loader's own error, within 10 s, runs nothing, allocates nothing near what a header claims."""
    counts = fuzz(originals, FUZZ, record_property)
    assert counts["refused"] > counts["loaded"] > 0  # the mangling reaches both outcomes


@pytest.mark.long
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_10000_mangled_checkpoints(originals, record_property):
    """The full count: 10,000 mangled files, the same promises."""
    counts = fuzz(originals, FUZZ_LONG, record_property)
    assert counts["refused"] > counts["loaded"] > 0


# ======================================================================= 6. stateful test
@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp("stateful-data"), n_train=40, n_test=4)


def killed_save(obj, path: Path, delay: float) -> None:
    """``checkpoint.save_checkpoint(obj, path)`` in a forked child, SIGKILLed after
    ``delay`` seconds (or already done): a real kill, at a moment Hypothesis chose."""
    pid = os.fork()
    if pid == 0:  # the child: save, and leave without running any cleanup
        try:
            checkpoint.save_checkpoint(obj, path)
        finally:
            os._exit(0)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


CAN_FORK = hasattr(os, "fork") and hasattr(signal, "SIGKILL")


TOTAL = 12  # steps of the unbroken run the machine's resumes must reproduce


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_random_sequence_of_saves_loads_corruptions_crashes_and_resumes_keeps_every_promise(
    cifar, tmp_path, record_property
):
    """A Hypothesis state machine over the CIFAR net's run: train, save, load, corrupt the file, kill a save, resume.

    Invariants: a load returns the last completed save (or, after a corruption, refuses);
    a killed save (a forked child SIGKILLed at a moment Hypothesis picks) leaves the last
    completed save or its own, complete; a run resumed from the last completed save ends
    exactly where the unbroken run of the same seed does.
    """
    with torch.random.fork_rng():
        unbroken = resume.train_steps(cifar, TOTAL)["model"]
    directory = tmp_path / "run"
    directory.mkdir()
    ran = {"steps": 0, "kills": 0}

    class CheckpointMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            for p in directory.iterdir():
                p.unlink()
            self.path = directory / "ckpt.pth"
            self.step = 0
            self.live = None  # the run's state at self.step (resumable)
            self.saved = None  # the last completed save
            self.corrupted = False

        @rule(n=st.integers(1, 4))
        def train(self, n):
            target = min(TOTAL - 1, self.step + n)  # a run stopped at TOTAL has ended
            with torch.random.fork_rng():
                self.live = resume.train_steps(cifar, TOTAL, stop_after=target,
                                               resume_from=self.live)  # fmt: skip
            self.step = target
            ran["steps"] += 1

        @precondition(lambda self: self.live is not None)
        @rule()
        def save(self):
            checkpoint.save_checkpoint(self.live, self.path)
            self.saved, self.corrupted = (self.step, self.live), False

        @precondition(lambda self: self.saved is not None)
        @rule(at=st.floats(0, 1), how=st.sampled_from(["flip", "truncate"]))
        def corrupt(self, at, how):
            data = bytearray(self.path.read_bytes())
            i = int(at * (len(data) - 1))
            if how == "flip":
                data[i] ^= 0xFF
            else:
                del data[max(i, 1) :]
            self.path.write_bytes(bytes(data))
            self.corrupted = True

        @precondition(lambda self: self.live is not None and CAN_FORK)
        @rule(delay=st.floats(0, 0.03))
        def kill_mid_save(self, delay):
            """A save SIGKILLed at a random moment: the path holds the last completed
            save or, if the kill came after the rename, this one."""
            killed_save(self.live, self.path, delay)
            ran["kills"] += 1
            try:
                got = checkpoint.load_checkpoint(self.path) if self.path.exists() else None
            except checkpoint.CheckpointError:
                got = None  # still the corrupted file: the kill came before the rename
            if (
                got is not None
                and got["loader"]["step"] == self.step
                and same(got["model"], self.live["model"])
            ):
                self.saved, self.corrupted = (self.step, self.live), False

        @precondition(lambda self: self.saved is not None and not self.corrupted)
        @rule()
        def resume_from_the_last_save(self):
            step, _ = self.saved
            loaded = checkpoint.load_checkpoint(self.path)
            assert loaded["loader"]["step"] == step
            with torch.random.fork_rng():
                end = resume.train_steps(cifar, TOTAL, resume_from=loaded)["model"]
            assert same(end, unbroken), f"resumed at step {step}: not the unbroken run's end"
            self.live, self.step = loaded, step

        @invariant()
        def a_load_returns_the_last_completed_save(self):
            if self.saved is None:
                assert not self.path.exists()
                return
            if self.corrupted:
                try:
                    got = checkpoint.load_checkpoint(self.path)
                except checkpoint.CheckpointError:
                    return
                # a flipped byte inside a tensor is caught by the CRC check; anything
                # that loads must be the saved state itself
                assert same(got["model"], self.saved[1]["model"]), "a corrupted file loaded wrong"
                return
            got = checkpoint.load_checkpoint(self.path)
            assert same(got["model"], self.saved[1]["model"])
            assert got["loader"]["step"] == self.saved[0]

    CheckpointMachine.TestCase.settings = settings(
        max_examples=6, stateful_step_count=8, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    CheckpointMachine.TestCase().runTest()
    record_property(
        "stateful", f"6 sequences of up to 8 steps: {ran['steps']} trainings, {ran['kills']} kills"
    )


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    from spec.helpers.data import write_mnist

    root = tmp_path_factory.mktemp("stateful-mnist")
    write_mnist(root)
    return root


EPOCHS = 3  # the unbroken Lightning fit the machine's resumes must reproduce


@pytest.mark.long
def test_the_lightning_module_under_saves_loads_corruptions_crashes_and_resumes(
    mnist, tmp_path, record_property
):
    """The same state machine over LitMNIST's fit, an epoch at a time, its checkpoints saved safely to one path and loaded tensors-only.

    Each step resumes from the last completed checkpoint (with RNGStateCallback, which
    makes Lightning's resume exact on CPU) and fits one more epoch; its checkpoint is
    then saved (or its save SIGKILLed midway) and loaded through
    ``load_lightning_checkpoint``. Invariants: a load returns the weights of the last
    completed save (or, corrupted, refuses); every resumed fit ends where the unbroken
    fit of as many epochs does.
    Long profile only: each step is a Trainer fit.
    """
    import logging

    pl = pytest.importorskip("pytorch_lightning")
    from spec.helpers import releases

    lightning_mnist = impl.lightning_mnist
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    def fit(out: Path, epochs: int, ckpt_path=None):
        releases.seed_everything(0)
        model = lightning_mnist.LitMNIST(data_dir=str(mnist), download=False, learning_rate=1e-3)
        trainer = pl.Trainer(
            max_epochs=epochs, accelerator="cpu", devices=1, enable_progress_bar=False,
            enable_model_summary=False, logger=False, default_root_dir=out,
            callbacks=[lightning_mnist.RNGStateCallback()],
            num_sanity_val_steps=0, limit_train_batches=6, limit_val_batches=1,
        )  # fmt: skip
        trainer.fit(model, ckpt_path=ckpt_path)
        return model, trainer

    with torch.random.fork_rng():
        unbroken = {e: dict(fit(tmp_path / f"unbroken-{e}", e)[0].state_dict())
                    for e in range(1, EPOCHS + 1)}  # fmt: skip
    directory = tmp_path / "run"
    directory.mkdir()
    fits = {"n": 0, "kills": 0}

    class LightningMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            for p in directory.iterdir():
                p.unlink()
            self.path = directory / "lit.ckpt"
            self.saved = None  # (epoch, state_dict) of the last completed save
            self.corrupted = False

        @precondition(lambda self: not self.corrupted and (self.saved or (0,))[0] < EPOCHS)
        @rule()
        def fit_one_more_epoch_and_save(self):
            epoch = (self.saved or (0,))[0] + 1
            resume_from = str(self.path) if self.saved else None
            with torch.random.fork_rng():
                model, trainer = fit(directory.with_name(f"logs-{time.monotonic_ns()}"), epoch,
                                     ckpt_path=resume_from)  # fmt: skip
            assert same(dict(model.state_dict()), unbroken[epoch]), f"epoch {epoch} differs"
            # Lightning's own checkpoint of the epoch's end, saved to the run's one path
            saved = checkpoint.load_checkpoint(trainer.checkpoint_callback.best_model_path)
            checkpoint.save_checkpoint(saved, self.path)
            self.saved = (epoch, dict(model.state_dict()))
            fits["n"] += 1

        @precondition(lambda self: self.saved is not None)
        @rule(at=st.floats(0, 1))
        def corrupt(self, at):
            data = bytearray(self.path.read_bytes())
            del data[max(int(at * len(data)), 1) :]
            self.path.write_bytes(bytes(data))
            self.corrupted = True

        @precondition(lambda self: self.corrupted)
        @rule()
        def start_over(self):
            self.path.unlink()
            self.saved, self.corrupted = None, False

        @precondition(lambda self: CAN_FORK and not self.corrupted
                      and (self.saved or (0,))[0] < EPOCHS)  # fmt: skip
        @rule(delay=st.floats(0, 0.03))
        def fit_one_more_epoch_and_kill_its_save(self, delay):
            """A preempted job: the epoch's fit ends, its save is SIGKILLed midway."""
            epoch = (self.saved or (0,))[0] + 1
            resume_from = str(self.path) if self.saved else None
            with torch.random.fork_rng():
                model, trainer = fit(directory.with_name(f"logs-{time.monotonic_ns()}"), epoch,
                                     ckpt_path=resume_from)  # fmt: skip
            fits["n"] += 1
            fits["kills"] += 1
            killed_save(checkpoint.load_checkpoint(trainer.checkpoint_callback.best_model_path),
                        self.path, delay)  # fmt: skip
            if self.path.exists():
                got = checkpoint.load_checkpoint(self.path)
                if got["epoch"] + 1 == epoch:  # the kill came after the rename
                    self.saved = (epoch, dict(model.state_dict()))

        @invariant()
        def a_load_returns_the_last_completed_save(self):
            if self.saved is None:
                return
            try:
                loaded = checkpoint.load_lightning_checkpoint(lightning_mnist.LitMNIST,
                                                              self.path, data_dir=str(mnist))  # fmt: skip
            except checkpoint.CheckpointError:
                assert self.corrupted, "an intact checkpoint was refused"
                return
            except Exception as e:
                pytest.fail(f"a damaged Lightning checkpoint raised {type(e).__name__}: {e}")
            assert same(dict(loaded.state_dict()), self.saved[1])

    LightningMachine.TestCase.settings = settings(
        max_examples=3, stateful_step_count=6, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    LightningMachine.TestCase().runTest()
    record_property(
        "stateful (Lightning)",
        f"3 sequences of up to 6 steps: {fits['n']} fits, {fits['kills']} saves killed",
    )
