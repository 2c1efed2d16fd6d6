"""The implementation under test: one name, ``impl``, that every chapter reads it through.

After array-api-tests' ``xp``: no chapter imports ``reference``. A chapter names the
module it needs once, at its top (``cifar10 = impl.cifar10``), and its tests call
``cifar10.train(...)``; which package that is comes from, in this order:

- ``pytest --impl DIR-or-module`` (``make spec IMPL=...`` passes it on);
- the environment variable ``SPEC_IMPL`` (child processes a test starts inherit it);
- ``reference``, the project's own implementation.

A folder is loaded as a package (an ``__init__.py`` is optional) under its own name, so
its modules may import each other relatively (``from . import cifar10``) or by that
name. Names are looked up when a test uses them, not at import: a module or name the
implementation does not have yet raises ``Missing`` — a ``NotImplementedError`` — which
the outcome plugin (``spec.plugin.outcomes``) reports as *to do*, like the
``NotImplementedError`` of an unwritten skeleton function.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ENV = "SPEC_IMPL"
DEFAULT = "reference"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference"

#: The note's chapters and the module of the implementation each one is about (the
#: README's chapter table); a chapter may also use the modules of chapters before it.
CHAPTER_MODULES = {
    "01": "tensors",
    "02": "operations",
    "03": "numpy_bridge",
    "04": "cuda_tensors",
    "05": "autograd",
    "06": "neural_networks",
    "07": "loss_function",
    "08": "backprop",
    "09": "update_weights",
    "10": "cifar10",
    "11": "examples",
    "12": "tensorboard_tutorial",
    "13": "pretrained_models",
    "14": "gpu_memory",
    "15": "transforms",
    "16": "lightning_mnist",
}


class Missing(NotImplementedError):
    """The implementation has no such module or name (yet): a *to do*, not a failure."""

    def __init__(self, module: str, name: str | None, where: Path):
        self.module, self.name, self.where = module, name, where
        what = f"{module}.{name}" if name else f"the module {module}"
        file = where / f"{module}.py"
        super().__init__(f"write {what} (in {file})")


@dataclass(frozen=True)
class Implementation:
    """A package of modules named like the reference's, one per chapter of the note."""

    given: str  # as the user named it: "reference", "/tmp/mine", "mypackage"
    package: str  # the name it is imported under
    folder: Path

    @property
    def is_reference(self) -> bool:
        return self.folder.resolve() == REFERENCE.resolve()

    def module(self, name: str) -> ModuleType:
        """``<package>.<name>``, imported; ``Missing`` where there is no such file.

        An error *inside* an existing module (its own bad import, a typo) is raised as
        it is: that is the implementation's failure, not a to-do."""
        full = f"{self.package}.{name}"
        if full in sys.modules:
            return sys.modules[full]
        self.load()
        if importlib.util.find_spec(full) is None:
            raise Missing(name, None, self.folder)
        return importlib.import_module(full)

    def get(self, module: str, name: str) -> Any:
        found = self.module(module)
        try:
            return getattr(found, name)
        except AttributeError:
            raise Missing(module, name, self.folder) from None

    def load(self) -> ModuleType:
        return _import_package(self.package, self.folder)

    def owns(self, filename: str) -> bool:
        """Is ``filename`` one of this implementation's files?"""
        try:
            return Path(filename).resolve().is_relative_to(self.folder.resolve())
        except (OSError, ValueError):
            return False

    @functools.cached_property
    def commit(self) -> str | None:
        """The git commit of the folder's work tree (``+ changes`` when it has
        uncommitted ones), or None outside git."""
        try:
            head = subprocess.run(
                ["git", "-C", str(self.folder), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()  # fmt: skip
            dirty = subprocess.run(
                ["git", "-C", str(self.folder), "status", "--porcelain", "--", "."],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return f"{head} + changes" if dirty else head

    def describe(self) -> str:
        """'reference (/work/reference, git 1a2b3c4d5e6f)', for report headers."""
        who = "reference" if self.is_reference else self.package
        commit = self.commit
        return f"{who} ({self.folder}" + (f", git {commit})" if commit else ", not in git)")


# ----------------------------------------------------------------------------- resolving
def resolve(given: str) -> Implementation:
    """An ``Implementation`` for a folder path or an importable module name.

    Raises ``ValueError`` naming what was expected when ``given`` is neither."""
    text = str(given).strip()
    looks_like_path = os.sep in text or text.startswith(".") or Path(text).is_dir()
    if looks_like_path:
        folder = Path(text).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(
                f"--impl {text}: no such folder (expected a folder of modules like "
                f"reference/, or an importable package name)"
            )
        if folder == REFERENCE.resolve():
            return Implementation(given=text, package="reference", folder=folder)
        return Implementation(given=text, package=_package_name(folder), folder=folder)
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", text):
        raise ValueError(f"--impl {text!r}: neither a folder nor a module name")
    try:
        module = importlib.import_module(text)
    except ModuleNotFoundError as error:
        raise ValueError(
            f"--impl {text}: no module of that name can be imported ({error}); give a folder "
            "path to test code that is not installed"
        ) from None
    folder = Path(getattr(module, "__file__", None) or next(iter(module.__path__))).parent
    if getattr(module, "__file__", None) is None:  # a namespace package
        folder = Path(next(iter(module.__path__)))
    return Implementation(given=text, package=text, folder=folder.resolve())


def _package_name(folder: Path) -> str:
    """The folder's own name where it is free to use, else ``impl_<name>``: a learner's
    ``mine/`` imports as ``mine``; a folder called ``torch`` does not shadow torch."""
    name = re.sub(r"\W", "_", folder.name) or "impl"
    if name[0].isdigit():
        name = f"impl_{name}"
    taken = name in sys.modules and not _is_loaded_from(sys.modules[name], folder)
    if taken or (name not in sys.modules and importlib.util.find_spec(name) is not None):
        name = f"impl_{name}"
    return name


def _is_loaded_from(module: ModuleType, folder: Path) -> bool:
    paths = [Path(p).resolve() for p in getattr(module, "__path__", [])]
    return folder.resolve() in paths


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Loads a module from its source every time: no cached bytecode read, none written.

    Python trusts a ``__pycache__`` file while the source's size and modification time
    (in whole seconds) match it; a learner who saves twice within one second, to a file
    of the same size, would run the older code. The project's runs write bytecode
    (Makefile, "Bytecode"), so a learner's folder is loaded with this loader instead."""

    def path_stats(self, path: str) -> dict:
        raise OSError("bytecode is not used for the implementation under test")


_SOURCE_ONLY: set[str] = set()


def _source_only_hook(path: str):
    """A ``sys.path_hooks`` entry: the folders of ``_SOURCE_ONLY`` (and those inside them)
    are searched with a finder that loads through ``SourceOnlyLoader``."""
    if not any(path == root or path.startswith(root + os.sep) for root in _SOURCE_ONLY):
        raise ImportError("not an implementation's folder")
    return importlib.machinery.FileFinder(
        path, (SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES)
    )


def _load_from_source(folder: Path) -> None:
    root = str(folder)
    if _source_only_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _source_only_hook)
    _SOURCE_ONLY.add(root)
    for path in [p for p in sys.path_importer_cache if p == root or p.startswith(root + os.sep)]:
        del sys.path_importer_cache[path]


def _import_package(name: str, folder: Path) -> ModuleType:
    """Import ``folder`` as package ``name`` (once), with or without an ``__init__.py``;
    its modules from their source (``SourceOnlyLoader``)."""
    if name in sys.modules:
        return sys.modules[name]
    if name == "reference" or "." in name:
        return importlib.import_module(name)
    _load_from_source(folder)
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, loader=SourceOnlyLoader(name, str(init)),
            submodule_search_locations=[str(folder)],
        )  # fmt: skip
    else:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# ----------------------------------------------------------------------------- the current one
_current: Implementation | None = None


def configure(given: str | None) -> Implementation:
    """Make ``given`` (or ``$SPEC_IMPL``, or ``reference``) the implementation under test,
    for this process and the processes it starts."""
    global _current
    _current = resolve(given or os.environ.get(ENV) or DEFAULT)
    if _current.is_reference:
        os.environ[ENV] = DEFAULT
    elif _current.package == _current.given:  # an importable module name
        os.environ[ENV] = _current.given
    else:
        os.environ[ENV] = str(_current.folder)
    return _current


@contextlib.contextmanager
def restored():
    """Run a nested pytest session (which configures its own implementation under test) and
    make this run's implementation, and ``$SPEC_IMPL``, current again afterwards.

    The nested implementation's modules leave ``sys.modules`` with it: a later nested
    session on another folder of the same name imports that folder's code, not this one's."""
    global _current
    saved, saved_env = _current, os.environ.get(ENV)
    before = set(sys.modules)
    try:
        yield
    finally:
        nested = _current
        if (
            nested is not None
            and nested is not saved
            and nested.package != (saved.package if saved is not None else None)
        ):
            for name in set(sys.modules) - before:
                if name == nested.package or name.startswith(nested.package + "."):
                    del sys.modules[name]
        _current = saved
        if saved_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved_env


def current() -> Implementation:
    return _current if _current is not None else configure(None)


def command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m <the implementation>.<module> ARGS`` in a child
    process: the child finds the implementation under test through ``SPEC_IMPL``."""
    code = (
        "import sys\n"
        "from spec.helpers.implementation import current\n"
        f"sys.exit(current().module({module!r}).main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code, *args]


class _Module:
    """``impl.cifar10``: the module, looked up each time a test reads a name from it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        # Not a name of the implementation: Python's and pytest's probes (pytest reads
        # ``_fixture_function_marker`` and the like off every object of a test module
        # while it collects it). Answering those would import the implementation's module
        # at collection — chapter 16's imports Lightning, over a second per process.
        if attr.startswith("_"):
            raise AttributeError(attr)
        return current().get(self._name, attr)

    def __repr__(self) -> str:
        return f"<the implementation's {self._name} ({current().describe()})>"


class _Impl:
    """``impl``: the implementation under test; ``impl.<module>`` one of its modules."""

    def __getattr__(self, module: str) -> _Module:
        if module.startswith("__") and module.endswith("__"):
            raise AttributeError(module)
        return _Module(module)

    def __repr__(self) -> str:
        return f"<implementation under test: {current().describe()}>"


impl = _Impl()


def Net():
    """A new ``Net`` of the note's chapter 06, from the implementation under test: tests of
    later chapters read ``Net()`` as the note does."""
    return impl.neural_networks.Net()


def criterion(output, target):
    """The note's ``criterion`` (chapter 07) of the implementation under test."""
    return impl.loss_function.criterion(output, target)
