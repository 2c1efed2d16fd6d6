"""Safe checkpoints — the note's torch.save/torch.load made safe: loading never runs code, saving never loses the previous file.

Beyond the note: the note saves and loads with plain torch.save / torch.load; this pins what
the project's safe path adds.

Every load in ``reference`` goes through ``reference.checkpoint`` with
``weights_only=True``, including the hub/torchvision path (which defaults to
``weights_only=False``); every save is atomic.
"""

import collections
import importlib
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from spec.helpers.devices import needs_cuda
from spec.helpers.implementation import impl

#: The reference's own guarantee: the note saves with plain torch.save / torch.load.
pytestmark = pytest.mark.extra

checkpoint = impl.checkpoint
cifar10 = impl.cifar10

MARKER = "payload-ran"


# ---------------------------------------------------------------- malicious payloads
class SystemPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpenPayload(SystemPayload):
    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class ExecPayload(SystemPayload):
    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


class ImportPayload(SystemPayload):
    def __reduce__(self):  # imports a module whose import writes the marker
        return (importlib.import_module, ("spec_evil_module",))


def nested_in_state_dict(marker):
    state = cifar10.Net().state_dict()
    state["fc3.extra"] = {"harmless": [1, 2], "payload": SystemPayload(marker)}
    return state


PAYLOADS = {
    "os.system": lambda m, p: torch.save(SystemPayload(m), p),
    "open": lambda m, p: torch.save(OpenPayload(m), p),
    "exec": lambda m, p: torch.save(ExecPayload(m), p),
    "importlib": lambda m, p: torch.save(ImportPayload(m), p),
    "nested in a valid state dict": lambda m, p: torch.save(nested_in_state_dict(m), p),
    "plain pickle, protocol 2": lambda m, p: p.write_bytes(pickle.dumps(SystemPayload(m), 2)),
    "plain pickle, protocol 4": lambda m, p: p.write_bytes(pickle.dumps(SystemPayload(m), 4)),
}
UNSAFE_GLOBAL = {
    "os.system": "posix.system" if os.name == "posix" else "nt.system",
    "open": "io.open",
    "exec": "exec",
    "importlib": "importlib.import_module",
    "nested in a valid state dict": "posix.system" if os.name == "posix" else "nt.system",
    "plain pickle, protocol 2": "posix.system" if os.name == "posix" else "nt.system",
    "plain pickle, protocol 4": "pickle features beyond tensors",
}


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A directory with the marker's path and an importable module that writes it."""
    marker = tmp_path / MARKER
    (tmp_path / "spec_evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "spec_evil_module", raising=False)
    return tmp_path, marker


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_malicious_checkpoint_is_refused_and_its_payload_never_runs(evil, kind):
    """A checkpoint whose unpickling would run code is refused, naming the unsafe global.

    The payloads call os.system, open, exec and importlib, one hides inside an otherwise
    valid state dict, and two are plain (non-zip) pickles. A marker file that each
    payload would create proves none ran.
    """
    directory, marker = evil
    path = directory / "model.pth"
    PAYLOADS[kind](marker, path)
    with pytest.raises(
        checkpoint.CheckpointError, match=f"refusing to load .*{UNSAFE_GLOBAL[kind]}"
    ):
        checkpoint.load_checkpoint(path)
    assert not marker.exists()


def test_the_payloads_are_real_they_run_under_weights_only_false(evil):
    """Control: with weights_only=False (the old default) the os.system payload does run.

    Without this control, the refusals above could be refusing harmless files.
    """
    directory, marker = evil
    path = directory / "model.pth"
    PAYLOADS["os.system"](marker, path)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("kind", ["os.system", "nested in a valid state dict"])
def test_the_hub_path_refuses_the_same_files(evil, kind):
    """Served over torch.hub (as torchvision's weights are), the same files are refused too.

    torch.hub.load_state_dict_from_url defaults to weights_only=False; the project's
    loader passes True.
    """
    directory, marker = evil
    path = directory / "server" / "weights-0badc0de.pth"
    path.parent.mkdir()
    PAYLOADS[kind](marker, path)
    with pytest.raises(checkpoint.CheckpointError, match="unsafe global"):
        checkpoint.load_state_dict_from_url(
            path.as_uri(), model_dir=directory / "hub", check_hash=False
        )
    assert not marker.exists()
    assert list((directory / "hub").iterdir()) == []  # the refused download is not kept


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_the_hub_path_refuses_damaged_files_as_clearly_as_a_local_load(tmp_path, damage):
    """An empty or truncated file served over torch.hub gets load_checkpoint's error, and
    is not kept in the cache.

    torch.hub's own path fails with a bare ``EOFError`` (empty) or miniz's
    ``RuntimeError`` (truncated), and keeps the file.
    """
    server = tmp_path / "server"
    server.mkdir()
    path = server / "net.pth"
    torch.save(cifar10.Net().state_dict(), path)
    path.write_bytes(b"" if damage == "empty" else path.read_bytes()[:1000])
    expected = "the file is empty" if damage == "empty" else "truncated or corrupted"
    with pytest.raises(checkpoint.CheckpointError, match=f"cannot load .*{expected}.*not kept"):
        checkpoint.load_state_dict_from_url(path.as_uri(), model_dir=tmp_path / "hub")
    assert list((tmp_path / "hub").iterdir()) == []


def test_the_hub_path_checks_the_hash_in_the_file_name_by_default(tmp_path):
    """A file named ``*-<hash>.pth`` whose content has another hash is refused, and not kept,
    unless ``check_hash=False`` is asked for — the same default as torch.hub's callers
    (torchvision's weights all carry their hash)."""
    server = tmp_path / "server"
    server.mkdir()
    path = server / "net-0badc0de.pth"
    torch.save(cifar10.Net().state_dict(), path)
    with pytest.raises(RuntimeError, match=r'invalid hash value \(expected "0badc0de"'):
        checkpoint.load_state_dict_from_url(path.as_uri(), model_dir=tmp_path / "hub")
    assert list((tmp_path / "hub").iterdir()) == []
    state = checkpoint.load_state_dict_from_url(
        path.as_uri(), model_dir=tmp_path / "hub", check_hash=False
    )
    assert set(state) == set(cifar10.Net().state_dict())


def test_the_hub_path_caches_under_torch_hubs_directory_without_model_dir(tmp_path, capfd):
    """Without ``model_dir`` a download lands in ``<torch.hub.get_dir()>/checkpoints``, where
    torch.hub and torchvision look for it."""
    server = tmp_path / "server"
    server.mkdir()
    path = server / "net.pth"
    torch.save(cifar10.Net().state_dict(), path)
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub-home"))
    try:
        checkpoint.load_state_dict_from_url(path.as_uri())
    finally:
        torch.hub.set_dir(before)
    assert [p.name for p in (tmp_path / "hub-home" / "checkpoints").iterdir()] == ["net.pth"]
    assert capfd.readouterr().err == "", "a download draws no progress bar (progress=False)"


def make_damaged(tmp_path, damage):
    path = tmp_path / "model.pth"
    torch.save(cifar10.Net().state_dict(), path)
    raw = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flipped byte in tensor data":
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "text file":
        path.write_text("not a checkpoint\n")
    elif damage == "a zip, not torch's":
        path.unlink()
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "a zip archive, but no torch file")
    elif damage == "missing":
        path.unlink()
    return path


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncated", "truncated or corrupted torch file"),
        ("empty", "the file is empty"),
        ("flipped byte in tensor data", "corrupted torch file \\(CRC mismatch"),
        ("text file", "not a torch checkpoint"),
        ("a zip, not torch's", "truncated or corrupted torch file"),
        ("missing", "no such file"),
    ],
)
def test_a_damaged_file_gives_a_clear_error(tmp_path, damage, message):
    """Truncated, empty, corrupted, wrong-format and missing files each give a clear error.

    A flipped byte inside tensor data is the dangerous one: ``torch.load`` does not
    check the zip's CRCs and would load a wrong weight silently; the loader checks them.
    """
    path = make_damaged(tmp_path, damage)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load_checkpoint(path)


def test_a_flipped_byte_loads_silently_with_plain_torch_load(tmp_path):
    """Control: plain torch.load accepts a checkpoint with a flipped tensor byte."""
    original = cifar10.Net().state_dict()
    path = make_damaged(tmp_path, "flipped byte in tensor data")
    loaded = torch.load(path, weights_only=True)
    assert any(not torch.equal(loaded[k], original[k]) for k in original)


# ---------------------------------------------------------------- atomic saves
def test_save_replaces_atomically_and_leaves_no_temporary(tmp_path):
    """save_checkpoint writes the new file whole, or not at all; nothing else is left."""
    path = tmp_path / "cifar_net.pth"
    first, second = cifar10.Net().state_dict(), cifar10.Net().state_dict()
    checkpoint.save_checkpoint(first, path)
    checkpoint.save_checkpoint(second, path)
    assert [p.name for p in tmp_path.iterdir()] == ["cifar_net.pth"]
    loaded = checkpoint.load_checkpoint(path)
    assert all(torch.equal(loaded[k], second[k]) for k in second)


def test_a_failing_save_keeps_the_previous_checkpoint(tmp_path):
    """An object torch.save cannot write fails the save; the previous checkpoint is intact."""
    path = tmp_path / "cifar_net.pth"
    good = cifar10.Net().state_dict()
    checkpoint.save_checkpoint(good, path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        checkpoint.save_checkpoint({"bad": lambda: None}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cifar_net.pth"]


def test_saving_into_a_missing_directory_is_refused_clearly(tmp_path):
    """Saving under a directory that does not exist fails naming it, and writes nothing."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.save_checkpoint({}, tmp_path / "nope" / "x.pth")
    assert not (tmp_path / "nope").exists()


def _save_then_save_slowly(path: Path, ready: int) -> None:
    """The killed writer's part, in a child: a small checkpoint, then "first saved" on the
    ``ready`` pipe, then a 32 MiB one written 1 MiB at a time (a slow disk), which the
    parent kills in mid-write."""
    real_save = torch.save

    def slow_save(obj, f):  # the same bytes, a megabyte at a time
        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        for start in range(0, len(data), 1 << 20):
            f.write(data[start : start + (1 << 20)])
            f.flush()
            time.sleep(0.02)

    checkpoint.save_checkpoint({"w": torch.full((4,), 1.0)}, path)
    os.write(ready, b"first saved\n")
    torch.save = slow_save  # in the child only: it was forked
    checkpoint.save_checkpoint({"w": torch.full((8 * 1024 * 1024,), 2.0)}, path)
    time.sleep(600)  # not reached if the parent kills in time


@pytest.mark.slow
def test_sigkill_in_mid_write_leaves_the_previous_checkpoint_loadable(tmp_path):
    """A save killed with SIGKILL in mid-write leaves the previous checkpoint, bit for bit.

    A child process (forked from this one) saves a small checkpoint, then starts
    overwriting it with a 32 MiB one written 1 MiB at a time (a slow disk); it is killed
    while that temporary file is growing. The small checkpoint loads
    unchanged, the loader never reads the temporary, and the next save removes it.
    """
    if not hasattr(signal, "SIGKILL") or not hasattr(os, "fork"):
        pytest.skip("needs POSIX signals and fork")
    path = tmp_path / "ckpt.pth"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            _save_then_save_slowly(path, write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    status = None
    try:
        with os.fdopen(read_end, "rb") as ready:
            assert ready.readline().strip() == b"first saved"
        before = path.read_bytes()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for p in tmp_path.iterdir() if p.name != path.name]  # the new file
            if partial and 1 << 20 < partial[0].stat().st_size < 24 << 20:
                break
            time.sleep(0.005)
        else:
            pytest.fail("never saw the big checkpoint being written")
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL
    assert path.read_bytes() == before
    assert checkpoint.load_checkpoint(path)["w"].tolist() == [1.0] * 4
    assert checkpoint.stale_temporaries(path) == partial  # the killed writer's temporary...
    checkpoint.save_checkpoint({"w": torch.zeros(1)}, path)
    assert checkpoint.stale_temporaries(path) == []  # ...is cleared by the next save


class _PausesWhilePickled:
    """Pickles as an empty OrderedDict, but only once ``go`` is set: a save of it stays in
    mid-write, its temporary on disk, until then."""

    def __init__(self, writing, go):
        self.writing, self.go = writing, go

    def __reduce__(self):
        self.writing.set()
        assert self.go.wait(60), "the test never let the save finish"
        return (collections.OrderedDict, ())


def test_a_save_in_progress_keeps_its_temporary_while_another_save_of_the_path_runs(tmp_path):
    """A save half-way through in another thread is alive: it is not a stale temporary, the
    next save of the same path leaves it alone, and it then completes."""
    path = tmp_path / "model.pth"
    checkpoint.save_checkpoint({"w": torch.ones(2)}, path)
    writing, go = threading.Event(), threading.Event()
    errors = []

    def slow_save():
        try:
            checkpoint.save_checkpoint({"w": torch.ones(3), "x": _PausesWhilePickled(writing, go)},
                                       path)  # fmt: skip
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    writer = threading.Thread(target=slow_save)
    writer.start()
    try:
        assert writing.wait(60), "the slow save never started pickling"
        in_progress = [p for p in tmp_path.iterdir() if p != path]
        assert in_progress, "expected the slow save's temporary in the directory"
        assert checkpoint.stale_temporaries(path) == [], (
            "a live writer's temporary was called stale"
        )
        checkpoint.save_checkpoint({"w": torch.zeros(2)}, path)
        assert all(p.exists() for p in in_progress), "the second save deleted a live temporary"
    finally:
        go.set()
        writer.join(60)
    assert errors == []
    assert checkpoint.load_checkpoint(path)["w"].tolist() == [1.0, 1.0, 1.0]  # the last to land
    assert checkpoint.stale_temporaries(path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]


#: A child that records every signal it gets, then says which when asked on stdin.
_SIGNAL_RECORDER = textwrap.dedent("""
    import signal, sys
    got = []
    for n in range(1, signal.NSIG):
        if n not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(n, lambda sig, frame: got.append(sig))
            except (OSError, ValueError, RuntimeError):
                pass
    print("ready", flush=True)
    sys.stdin.readline()
    print(",".join(map(str, got)) or "none", flush=True)
""")


def test_asking_whether_a_writer_is_alive_sends_it_no_signal(tmp_path):
    """Beyond the note: finding stale temporaries probes each writer's process without
    disturbing it (signal 0 only: any other would reach a live save). The writer is a
    child that records every signal it is sent."""
    path = tmp_path / "model.pth"
    child = subprocess.Popen([sys.executable, "-c", _SIGNAL_RECORDER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "ready"
        tmp = tmp_path / f"{checkpoint.TMP_PREFIX}{path.name}.{child.pid}.1"
        tmp.write_bytes(b"half")
        assert checkpoint.stale_temporaries(path) == [], "a live writer's temporary was stale"
        received, _ = child.communicate("\n", timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert received.strip() == "none", f"the writer was sent signal(s) {received.strip()}"


def test_a_temporary_of_another_users_live_process_is_not_stale(tmp_path, monkeypatch):
    """Beyond the note: a writer that the probe may not signal (another user's process:
    the system answers EPERM) is alive, and its temporary is left alone. The answer is
    simulated: a test running as root may signal every process."""
    path = tmp_path / "model.pth"
    tmp = tmp_path / f"{checkpoint.TMP_PREFIX}{path.name}.{os.getpid()}.1"
    tmp.write_bytes(b"half")

    def kill(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", kill)
    assert checkpoint.stale_temporaries(path) == []


@pytest.fixture
def saved_on_a_gpu(tmp_path, monkeypatch):
    """The CIFAR Net's state dict as torch.save writes it from a GPU: every storage tagged
    'cuda:0' (torch records where each tensor lived), made without a GPU by giving the
    save that tag."""
    state = cifar10.Net().state_dict()
    path = tmp_path / "gpu.pth"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, path)
    return path, state


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU machine can load it either way")
def test_plain_torch_load_of_a_gpu_checkpoint_fails_on_a_cpu_only_machine(saved_on_a_gpu):
    """Fact about PyTorch, the control: without map_location a checkpoint saved on a GPU
    does not load where there is none."""
    path, _ = saved_on_a_gpu
    # a RuntimeError from torch 2.5 on; before, the weights-only unpickler's
    # UnpicklingError with the same words (the atlas: torch 2.0.1 to 2.4.1)
    with pytest.raises((RuntimeError, pickle.UnpicklingError), match="CUDA"):
        torch.load(path, weights_only=True)


def test_a_checkpoint_saved_on_a_gpu_loads_onto_the_cpu(saved_on_a_gpu):
    """Beyond the note: the safe loaders put every tensor on the CPU by default (a GPU
    checkpoint loads on a machine without one), and honour the map_location given."""
    path, state = saved_on_a_gpu
    for loaded in (checkpoint.load_checkpoint(path), checkpoint.load_bytes(path.read_bytes()),
                   cifar10.load(path).state_dict()):  # fmt: skip
        assert loaded.keys() == state.keys()
        for k in state:
            assert loaded[k].device.type == "cpu", f"{k} loaded on {loaded[k].device}"
            torch.testing.assert_close(loaded[k], state[k], rtol=0, atol=0)
    for loaded in (checkpoint.load_checkpoint(path, map_location="meta"),
                   checkpoint.load_bytes(path.read_bytes(), map_location="meta")):  # fmt: skip
        assert {t.device.type for t in loaded.values()} == {"meta"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("fc3.bias"), r'Missing key\(s\) in state_dict: "fc3.bias"'),
        (
            lambda sd: sd.__setitem__("fc4.weight", torch.zeros(1)),
            r'Unexpected key\(s\) in state_dict: "fc4.weight"',
        ),
        (
            lambda sd: sd.__setitem__("fc3.weight", torch.zeros(11, 84)),
            r"size mismatch for fc3.weight: copying a param with shape torch.Size\(\[11, 84\]\)",
        ),
    ],
    ids=["missing key", "unexpected key", "wrong shape"],
)
def test_a_state_dict_that_does_not_fit_is_refused_naming_the_key(edit, message, tmp_path):
    """Fact about PyTorch: load_state_dict refuses missing keys, unexpected keys and wrong
    shapes, naming the key (the note's ``the_model.load_state_dict(torch.load(PATH))``)."""
    state = cifar10.Net().state_dict()
    edit(state)
    path = tmp_path / "cifar_net.pth"
    torch.save(state, path)
    the_model = cifar10.Net()
    with pytest.raises(RuntimeError, match=message):
        the_model.load_state_dict(torch.load(path))


@needs_cuda
def test_a_state_saved_on_cuda_loads_on_cpu_with_map_location(tmp_path):
    """Fact about PyTorch, on a real GPU: a state_dict saved from a CUDA net loads on the
    CPU with map_location="cpu" (the note's ``torch.save(net.state_dict(), PATH)``)."""
    net = cifar10.Net().to("cuda")
    path = tmp_path / "cifar_net.pth"
    torch.save(net.state_dict(), path)
    state = torch.load(path, map_location="cpu")
    devices = {k: t.device.type for k, t in state.items()}
    assert set(devices.values()) == {"cpu"}, f"map_location='cpu' left tensors elsewhere: {devices}"
    the_model = cifar10.Net()
    the_model.load_state_dict(state)
    for a, b in zip(the_model.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(a, b.cpu(), rtol=0, atol=0)


def test_an_in_memory_checkpoint_loads_as_a_file_does(tmp_path, evil):
    """load_bytes loads a checkpoint's bytes onto the CPU, tensors only, naming what it was given when it refuses."""
    state = cifar10.Net().state_dict()
    path = tmp_path / "net.pth"
    torch.save(state, path)
    loaded = checkpoint.load_bytes(path.read_bytes())
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) and loaded[k].device.type == "cpu" for k in state)
    with pytest.raises(checkpoint.CheckpointError, match="cannot load <bytes>: the file is empty"):
        checkpoint.load_bytes(b"")
    folder, marker = evil
    bad = folder / "upload.pth"
    torch.save(SystemPayload(marker), bad)
    with pytest.raises(checkpoint.CheckpointError, match=r"refusing to load upload\.pth: .*unsafe"):
        checkpoint.load_bytes(bad.read_bytes(), name="upload.pth")
    assert not marker.exists()
    with pytest.raises(checkpoint.CheckpointError, match=r"cannot load half\.pth: truncated"):
        checkpoint.load_bytes(path.read_bytes()[:-100], name="half.pth")


def as_older_lightning(lit):
    """``lit`` as Lightning before ``load_from_checkpoint`` took ``weights_only``: a class
    whose ``load_from_checkpoint`` has no such parameter and unpickles everything."""

    class Older(lit):
        @classmethod
        def load_from_checkpoint(cls, checkpoint_path, map_location=None, hparams_file=None,
                                 strict=None, **kwargs):  # fmt: skip
            return super().load_from_checkpoint(
                checkpoint_path, map_location=map_location, hparams_file=hparams_file,
                strict=strict, weights_only=False, **kwargs,
            )  # fmt: skip

    return Older


@pytest.mark.parametrize("lightning", ["installed", "older, without weights_only"])
def test_a_lightning_checkpoint_loads_tensors_only(tmp_path, evil, lightning):
    """load_lightning_checkpoint loads a LitMNIST checkpoint with weights_only=True, and refuses one that would run code.

    Lightning releases whose ``load_from_checkpoint`` takes no ``weights_only`` (2.3.3,
    beside torch 2.0) unpickle everything: the file is checked tensors-only first."""
    pl = pytest.importorskip("pytorch_lightning")
    lit = impl.lightning_mnist.LitMNIST
    if lightning != "installed":
        lit = as_older_lightning(lit)
    model = lit(hidden_size=16, learning_rate=1e-3)
    saved = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
             "pytorch-lightning_version": pl.__version__}  # fmt: skip
    path = tmp_path / "lit.ckpt"
    torch.save(saved, path)
    loaded = checkpoint.load_lightning_checkpoint(lit, path, learning_rate=5e-4)
    assert loaded.hparams.hidden_size == 16
    assert loaded.hparams.learning_rate == 5e-4  # keyword arguments override the saved ones
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    _, marker = evil
    saved["hyper_parameters"]["payload"] = SystemPayload(marker)
    torch.save(saved, path)
    with pytest.raises(checkpoint.CheckpointError, match=r"refusing to load .*lit\.ckpt: .*unsafe"):
        checkpoint.load_lightning_checkpoint(lit, path)
    assert not marker.exists()


@pytest.mark.parametrize("lightning", ["installed", "older, without weights_only"])
def test_a_lightning_checkpoint_at_a_url_is_left_to_lightnings_filesystems(tmp_path, evil,
                                                                          lightning):  # fmt: skip
    """A ``scheme://`` path (here fsspec's in-memory ``memory://``) is read by Lightning, tensors only, not refused as a missing local file.

    On a Lightning without ``weights_only`` the URL's bytes are fetched with fsspec and
    checked first: a payload at a URL is refused as a local one is."""
    import fsspec
    import pytorch_lightning as pl

    lit = impl.lightning_mnist.LitMNIST
    if lightning != "installed":
        lit = as_older_lightning(lit)
    model = lit(data_dir=str(tmp_path))
    saved = {"state_dict": model.state_dict(), "pytorch-lightning_version": pl.__version__,
             "hyper_parameters": dict(model.hparams)}  # fmt: skip
    url = f"memory://spec/{lightning.split(',')[0]}/lit.ckpt"
    with fsspec.open(url, "wb") as f:
        torch.save(saved, f)
    loaded = checkpoint.load_lightning_checkpoint(lit, url, data_dir=str(tmp_path))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    _, marker = evil
    saved["hyper_parameters"]["payload"] = SystemPayload(marker)
    with fsspec.open(url, "wb") as f:
        torch.save(saved, f)
    with pytest.raises(checkpoint.CheckpointError, match=r"refusing to load memory://.*unsafe"):
        checkpoint.load_lightning_checkpoint(lit, url, data_dir=str(tmp_path))
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated"])
def test_a_damaged_lightning_checkpoint_is_refused_naming_its_path(tmp_path, damage):
    """A missing, empty or truncated local Lightning checkpoint is refused by name, before Lightning reads it."""
    lit = impl.lightning_mnist.LitMNIST
    path = tmp_path / "lit.ckpt"
    if damage != "missing":
        buffer = io.BytesIO()
        torch.save({"state_dict": lit(data_dir=str(tmp_path)).state_dict()}, buffer)
        path.write_bytes(b"" if damage == "empty" else buffer.getvalue()[:2000])
    expected = {"missing": "no such file", "empty": "the file is empty",
                "truncated": "truncated or corrupted"}[damage]  # fmt: skip
    with pytest.raises(
        checkpoint.CheckpointError, match=f"^cannot load {re.escape(str(path))}: {expected}"
    ):
        checkpoint.load_lightning_checkpoint(lit, path, data_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            pickle.dumps({"a": [1, 2]}, 4),
            r"^refusing to load x\.pth: it uses pickle features beyond tensors and plain "
            r"containers \(Unsupported operand \d+\) \(only tensors and plain containers are "
            r"loaded; loading it could run code\)$",
        ),
        (
            b"\x80\x02K\x01.",
            r"^cannot load x\.pth: not a torch checkpoint \(neither torch's zip format nor its "
            r"legacy format\): RuntimeError: ",
        ),
        (
            "a zip without torch's records",
            r"^cannot load x\.pth: truncated or corrupted torch file \(.+\)$",
        ),
    ],
    ids=[
        "protocol-4 pickle",
        "a legacy pickle torch cannot read",
        "a zip that is not torch's",
    ],
)
def test_each_refusal_says_why_in_full(data, message):
    """Each refusal is one sentence: what was refused, why, and what is loaded instead."""
    import io
    import zipfile

    if isinstance(data, str):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("x/hello.txt", "hi")
        data = buffer.getvalue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch notes a pickle protocol other than its own
        with pytest.raises(checkpoint.CheckpointError, match=message):
            checkpoint.load_bytes(data, name="x.pth")


def test_a_refusal_torch_words_in_a_sentence_of_its_own_still_says_why():
    """A global torch refuses with "must be imported to load" is refused in the same one sentence.

    torch 2.14.1 refuses ``torch._dynamo.decorators._DimRange`` while torch._dynamo is not
    imported (importing it allowlists the class) with a sentence of its own and no
    "WeightsUnpickler error:" detail; releases without that sentence say "Unsupported
    global" and the refusal names it. The allowlist is emptied for the load and restored.
    """
    data = b"\x80\x02ctorch._dynamo.decorators\n_DimRange\n."
    message = (
        r"^refusing to load x\.pth: (it needs the unsafe global torch\._dynamo\.decorators\."
        r"_DimRange|it uses pickle features beyond tensors and plain containers) \(only "
        r"tensors and plain containers are loaded; loading it could run code\)$"
    )
    serialization = torch.serialization
    allowed = serialization.get_safe_globals() if hasattr(serialization, "get_safe_globals") else []
    try:
        if allowed:
            serialization.clear_safe_globals()
        with pytest.raises(checkpoint.CheckpointError, match=message):
            checkpoint.load_bytes(data, name="x.pth")
    finally:
        if allowed:
            serialization.add_safe_globals(allowed)
