"""Helpers shared by the chapters, split by concern:

- ``devices``: the cpu/cuda parametrization, CUDA skips and the CPU-vs-CUDA comparison;
- ``environment``: versions, devices and hypothesis profiles (report header, summary);
- ``note``: the study note itself, so docstrings can be checked against its text;
- ``report``: the pytest plugin that prints the spec as a checklist (``make spec``).
"""
