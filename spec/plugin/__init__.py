"""The pytest plugins the root conftest loads (``pytest_plugins``).

- ``outcomes``: the outcomes a learner reads — *to do* for unwritten code, *facts* for
  tests of PyTorch itself — beside pass and fail;
- ``report``: the checklist by chapter (``--checklist``, ``--spec-report``) and the JSON
  run report (``--run-report``) the upgrade tools read;
- ``explain``: ``pytest --explain=FILE``, an old note's blocks as tests (``make explain``'s
  runner, spec/tools/explain.py).
"""
