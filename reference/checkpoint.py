"""Checkpoints, safely: loading never runs code, saving never loses the previous file.

The note saves with ``torch.save(net.state_dict(), PATH)`` and loads with
``torch.load(PATH)``. Copied into real work, two things go wrong:

- ``torch.load`` unpickles: before torch 2.6 (and still in ``torch.hub``,
  torchvision's weights and Lightning's remote loads, which default to
  ``weights_only=False``) a checkpoint can run arbitrary code when loaded. Every load
  in this project goes through ``load_checkpoint`` / ``load_state_dict_from_url``
  here, with ``weights_only=True`` always, on every release.
- ``torch.save(obj, PATH)`` writes in place: a crash (Ctrl-C, OOM-kill, power loss)
  mid-write leaves a truncated PATH and the previous checkpoint is gone.
  ``save_checkpoint`` writes a temporary file in the same directory, fsyncs it, and
  ``os.replace``-s it over PATH (atomic on POSIX and Windows), then fsyncs the directory.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import pickle
import re
import threading
import urllib.error
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import torch

TMP_PREFIX = ".tmp-"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded safely: missing, empty, truncated, corrupted,
    not a torch file, or holding objects other than tensors and plain containers."""


class CheckpointSaveError(OSError, CheckpointError):
    """A save that could not complete — a full disk, a failing open, write, fsync or
    rename: the file at the path is what it was before the save (or still absent), and
    no temporary file is left. An ``OSError`` (with the ``errno`` of the failure where the
    system gave one) and a ``CheckpointError``."""


# ----------------------------------------------------------------------------- saving
def _tmp_name(path: Path) -> Path:
    # The writer's process and thread: two saves of one path never share a temporary.
    return path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{threading.get_ident()}")


def _writer_alive(tmp: Path) -> bool:
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporary files a crashed save of ``path`` left behind (never read by loads):
    those whose writing process is gone. A save in progress in another process or
    thread keeps its temporary."""
    path = Path(path)
    found = path.parent.glob(f"{TMP_PREFIX}{path.name}.*")
    return sorted(tmp for tmp in found if not _writer_alive(tmp))


def save_checkpoint(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)``, atomically: readers see the old file or the new one,
    never a half-written one. Stale temporaries of earlier crashed saves are removed."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {path}: directory {path.parent} does not exist")
    for stale in stale_temporaries(path):
        stale.unlink(missing_ok=True)
    tmp = _tmp_name(path)
    sink = None
    try:
        with open(tmp, "wb") as f:
            sink = _Sink(f)
            torch.save(obj, sink)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        cause = sink.error if sink is not None and sink.error is not None else e
        if isinstance(cause, OSError):  # the disk failed, not the object
            raise _save_failed(path, cause) from e
        raise
    _fsync_directory(path.parent)
    return path


class _Sink:
    """The file torch.save writes into, keeping the OSError of a failed write: torch's
    zip writer reports it as a RuntimeError of its own ("unexpected pos ..."), without
    the system's reason."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()


def _save_failed(path: Path, error: OSError) -> CheckpointSaveError:
    """The one error of a save that could not complete: the path, the system's reason."""
    before = "the previous checkpoint there is unchanged" if path.exists() else "nothing written"
    why = error.strerror or error
    return CheckpointSaveError(error.errno, f"cannot save {path}: {why} ({before})")


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    # Best effort: the new file is in place; a directory that cannot be synced (or
    # closed) leaves, after a power loss, the old file or the new one, both complete.
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


# ----------------------------------------------------------------------------- loading
# torch >= 2.4 says "Unsupported global: GLOBAL posix.system", earlier releases
# "Unsupported class posix.system".
_GLOBAL = re.compile(r"(?:GLOBAL|Unsupported class) ([\w.]+)")


def _read_failed(name: str, error: OSError) -> CheckpointError:
    """The disk, not the file: reading it failed (an I/O error, a vanished mount)."""
    return CheckpointError(
        f"cannot load {name}: reading it failed ({error.strerror or error}); the file itself "
        "may be intact"
    )


def _explain(path: str, error: BaseException, is_zip: bool) -> CheckpointError:
    text = str(error)
    if isinstance(error, OSError):
        return _read_failed(path, error)
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text:
        match = _GLOBAL.search(text)
        if match:
            what = f"it needs the unsafe global {match.group(1)}"
        else:
            detail = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", text)
            if detail and detail.group(1).startswith("Invalid magic number"):
                # torch before 2.4 or so reads a legacy file's header with the weights-only
                # unpickler too: a pickle that is not torch's is no checkpoint, not unsafe
                return CheckpointError(
                    f"cannot load {path}: not a torch checkpoint (neither torch's zip format "
                    f"nor its legacy format): RuntimeError: {detail.group(1).strip()}"
                )
            what = "it uses pickle features beyond tensors and plain containers" + (
                f" ({detail.group(1).strip()})" if detail else ""
            )
        return CheckpointError(
            f"refusing to load {path}: {what} "
            "(only tensors and plain containers are loaded; loading it could run code)"
        )
    if is_zip:
        return CheckpointError(f"cannot load {path}: truncated or corrupted torch file ({text})")
    return CheckpointError(
        f"cannot load {path}: not a torch checkpoint (neither torch's zip format nor its "
        f"legacy format): {type(error).__name__}: {text}"
    )


def _check_zip(path_or_file, name: str) -> bool:
    """True for a zip-format torch file whose every member passes its CRC-32 check.

    torch does not verify CRCs when it reads tensor data, so a flipped byte inside a
    tensor would otherwise load silently as a wrong value."""
    if hasattr(path_or_file, "read"):
        head = path_or_file.read(4)
        path_or_file.seek(0)
    else:
        try:
            with open(path_or_file, "rb") as f:
                head = f.read(4)
        except OSError as e:
            raise _read_failed(name, e) from e
    if head != b"PK\x03\x04":  # not a zip: maybe torch's legacy format, a pickle
        if not head.startswith(b"\x80"):  # every pickle since protocol 2 opens with PROTO
            raise CheckpointError(
                f"cannot load {name}: not a torch checkpoint (neither torch's zip format "
                f"nor its legacy pickle format; it starts with {head!r})"
            )
        return False
    try:
        with zipfile.ZipFile(path_or_file) as archive:
            bad = archive.testzip()
    except OSError as e:
        raise _read_failed(name, e) from e
    except Exception as e:  # a damaged zip fails zipfile in many ways: BadZipFile,
        # EOFError, a member name that is not UTF-8, an unknown compression method...
        raise CheckpointError(f"cannot load {name}: truncated or corrupted torch file ({e})") from e
    if bad is not None:
        raise CheckpointError(
            f"cannot load {name}: corrupted torch file (CRC mismatch in member {bad})"
        )
    return True


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that say what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"cannot load {path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot load {path}: the file is empty")
    is_zip = _check_zip(path, str(path))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise _explain(str(path), e, is_zip) from e


def load_bytes(data: bytes, name: str = "<bytes>", map_location: Any = "cpu") -> Any:
    """``load_checkpoint`` for an in-memory file."""
    if not data:
        raise CheckpointError(f"cannot load {name}: the file is empty")
    is_zip = _check_zip(io.BytesIO(data), name)
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:
        raise _explain(name, e, is_zip) from e


def load_state_dict_from_url(
    url: str, model_dir: str | os.PathLike | None = None, check_hash: bool = True
) -> dict:
    """``torch.hub.load_state_dict_from_url``, safely: the download is torch.hub's (cache
    in ``model_dir`` or ``<hub dir>/checkpoints``, the hash prefix in the file name checked
    as torch.hub checks it), the load this module's ``load_checkpoint`` — tensors only
    (hub's own default is ``weights_only=False``, and releases before 2.6 lack the flag),
    zip CRCs verified, empty, truncated and corrupted files refused by name. A file that
    is refused and was downloaded by this call is removed from the cache: nothing refused
    stays behind to be loaded later by a path that trusts the cache. torchvision's
    ``weights.get_state_dict`` takes the same path: pass ``weights.url`` here."""
    directory = (
        Path(model_dir) if model_dir is not None else Path(torch.hub.get_dir()) / "checkpoints"
    )
    directory.mkdir(parents=True, exist_ok=True)
    cached = directory / os.path.basename(urllib.parse.urlparse(url).path)
    downloaded = not cached.exists()
    if downloaded:
        match = torch.hub.HASH_REGEX.search(cached.name) if check_hash else None
        try:
            torch.hub.download_url_to_file(
                url, str(cached), match.group(1) if match else None, progress=False
            )
        except OSError as e:
            if isinstance(e, urllib.error.URLError):  # the network, not the disk
                raise
            raise _save_failed(cached, e) from e  # e.g. a full disk: hub removed its temporary
    try:
        return load_checkpoint(cached)
    except CheckpointError as e:
        if downloaded:
            cached.unlink(missing_ok=True)
        raise CheckpointError(f"{e} [downloaded from {url}; not kept]") from e


def load_lightning_checkpoint(module_class, path: str | os.PathLike, **kwargs):
    """``module_class.load_from_checkpoint(path, weights_only=True)`` — Lightning defaults
    to ``weights_only=False`` for remote paths. A local file gets ``load_checkpoint``'s
    checks first (missing, empty, truncated, corrupted: refused by name), so what
    Lightning then raises is about the module, not the file.

    Where ``load_from_checkpoint`` takes no ``weights_only`` (older Lightning, which
    would pass it on to the module's ``__init__`` and unpickle everything), the file's
    bytes are read once, loaded tensors-only by ``load_bytes`` (refused by name), and
    those same bytes handed to Lightning: what it unpickles has passed the check."""
    local = "://" not in str(path)
    if local:
        file = Path(path)
        if not file.is_file():
            raise CheckpointError(f"cannot load {file}: no such file")
        if file.stat().st_size == 0:
            raise CheckpointError(f"cannot load {file}: the file is empty")
        _check_zip(file, str(file))
    if "weights_only" in inspect.signature(module_class.load_from_checkpoint).parameters:
        try:
            return module_class.load_from_checkpoint(str(path), weights_only=True, **kwargs)
        except pickle.UnpicklingError as e:
            raise _explain(str(path), e, is_zip=True) from e
    data = Path(path).read_bytes() if local else _read_remote(str(path))
    load_bytes(data, name=str(path))
    return module_class.load_from_checkpoint(io.BytesIO(data), **kwargs)


def _read_remote(url: str) -> bytes:
    import fsspec  # Lightning's own dependency for remote paths

    with fsspec.open(url, "rb") as f:
        return f.read()
