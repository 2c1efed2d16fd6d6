"""Reading and writing the tools' JSON files: run reports, speed files.

Apart from the report plugin (``spec.plugin.report``, which writes run reports) so that
a reader — the exercise loop, compare, atlas — need not import torch: the plugin's
module reads the environment's versions, and with them torch.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The flat run report ``load_run_report`` returns (and the files written before the
#: report was built on pytest-json-report).
SCHEMA = "pytorch-notes-spec/run-report/1"
#: The spec's part of a pytest-json-report file.
FILE_SCHEMA = "pytorch-notes-spec/run-report/2"


def load_run_report(path: str | Path, error: type[Exception] = ValueError) -> dict:
    """The run report at ``path`` as one flat table (schema ``SCHEMA``): ``"tests"`` by
    node id, each row the spec's (chapter, kind, outcome, reason, ...), beside versions,
    devices, implementation, goldens and counts; ``"pytest"``: pytest-json-report's
    exit code, duration and summary. Reads the files built on pytest-json-report and
    the flat ones written before; anything else is ``error`` naming the file."""
    data = read_json(path, "a run report", (SCHEMA, FILE_SCHEMA), error)
    if data.get("schema") == SCHEMA:
        return data
    spec = data["spec"]
    tests = {t["nodeid"]: t["metadata"]["spec"] for t in data.get("tests", [])
             if "spec" in t.get("metadata", {})}  # fmt: skip
    tests.update(spec.get("modules", {}))
    flat = {k: v for k, v in spec.items() if k != "modules"}
    flat.update(schema=SCHEMA, tests=tests, pytest={
        k: data.get(k) for k in ("exitcode", "duration", "summary")
    })  # fmt: skip
    return flat


def read_json(
    path: str | Path, what: str, schema: str | tuple[str, ...], error: type[Exception]
) -> dict:
    """The JSON object in ``path`` whose ``"schema"`` (or ``"spec"``'s: a file built on
    pytest-json-report) is ``schema`` (or one of them); else ``error`` in one line naming
    the file and what it was expected to be (``what``: "a run report")."""
    path = Path(path)
    schemas = (schema,) if isinstance(schema, str) else schema
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        kind = what.split(" ", 1)[1]  # "a run report" -> "run report"
        raise error(f"{path}: not a JSON {kind} ({type(e).__name__}: {e})") from None
    found = data.get("schema") if isinstance(data, dict) else type(data).__name__
    if isinstance(data, dict) and found is None and isinstance(data.get("spec"), dict):
        found = data["spec"].get("schema")
    if found not in schemas:
        named = " or ".join(map(repr, schemas))
        raise error(f"{path}: not {what} of schema {named} (found {found!r})")
    return data


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary beside ``path``, then rename it there: a reader never
    sees a half-written report."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
