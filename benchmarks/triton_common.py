"""What the two hand-written kernel modules share: Triton (or its absence), the jit
decorator, and the interpreter's switches.

``lenet_triton`` (the note's batch-4 step as nine kernels) and ``lenet_triton_conv``
(the conv layers for large batches) import this and nothing else of the benchmarks;
``cores`` imports them; their command lines live in ``benchmarks.kernels_cli``.
"""

from __future__ import annotations

try:
    import triton
    import triton.language as tl
except ImportError:  # e.g. macOS: torch does not pull triton in there
    triton = tl = None


def available() -> str | None:
    """None if the kernels can run here, else why not."""
    return None if triton is not None else "triton is not installed"


def interpreting() -> bool:
    """True when Triton was imported with TRITON_INTERPRET=1: kernels run in NumPy on the
    CPU. It is decided at import (triton.language's own helpers are kernels too), so the
    CPU checks run in a process of their own: ``python -m benchmarks.kernels_cli``."""
    return triton is not None and bool(triton.knobs.runtime.interpret)


def jit(fn):
    """``triton.jit`` where Triton is installed; the plain function elsewhere (so the
    modules import, and say why their kernels cannot run)."""
    return triton.jit(fn) if triton is not None else fn


def skip_overflow_checks() -> None:
    """Switch off the interpreter's int32-overflow check of index arithmetic in this
    process: a third of its time, and these indices stay below 2**18 (B <= 64 images of
    3 x 32 x 32). Triton has no setting for it; where its internals differ, nothing
    changes."""
    try:
        import dataclasses

        from triton.runtime import interpreter

        builder = interpreter.interpreter_builder
        builder.options = dataclasses.replace(builder.options, sanitize_overflow=False)
    except (ImportError, AttributeError, TypeError):
        pass
