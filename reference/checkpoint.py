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

import io
import os
import pickle
import re
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import torch

TMP_PREFIX = ".tmp-"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded safely: missing, empty, truncated, corrupted,
    not a torch file, or holding objects other than tensors and plain containers."""


# ----------------------------------------------------------------------------- saving
def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporary files a crashed save of ``path`` left behind (never read by loads)."""
    path = Path(path)
    return sorted(path.parent.glob(f"{TMP_PREFIX}{path.name}.*"))


def save_checkpoint(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)``, atomically: readers see the old file or the new one,
    never a half-written one. Stale temporaries of earlier crashed saves are removed."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {path}: directory {path.parent} does not exist")
    for stale in stale_temporaries(path):
        stale.unlink(missing_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- loading
# torch >= 2.4 says "Unsupported global: GLOBAL posix.system", earlier releases
# "Unsupported class posix.system".
_GLOBAL = re.compile(r"(?:GLOBAL|Unsupported class) ([\w.]+)")


def _explain(path: str, error: BaseException, is_zip: bool) -> CheckpointError:
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text:
        match = _GLOBAL.search(text)
        if match:
            what = f"it needs the unsafe global {match.group(1)}"
        else:
            detail = re.search(r"WeightsUnpickler error:\s*(.+?)\n", text)
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
        with open(path_or_file, "rb") as f:
            head = f.read(4)
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
    except (zipfile.BadZipFile, OSError, EOFError) as e:
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
        torch.hub.download_url_to_file(
            url, str(cached), match.group(1) if match else None, progress=False
        )
    try:
        return load_checkpoint(cached)
    except CheckpointError as e:
        if downloaded:
            cached.unlink(missing_ok=True)
        raise CheckpointError(f"{e} [downloaded from {url}; not kept]") from e


def load_lightning_checkpoint(module_class, path: str | os.PathLike, **kwargs):
    """``module_class.load_from_checkpoint(path, weights_only=True)`` — Lightning defaults
    to ``weights_only=False`` for remote paths."""
    try:
        return module_class.load_from_checkpoint(str(path), weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        raise _explain(str(path), e, is_zip=True) from e
