# pytorch-notes-spec — two commands do everything: `make spec` and `make test`.
# Both create .venv and install the locked dependencies first if needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-from-lock
# pytest-xdist workers; each runs torch with TORCH_NUM_THREADS (default 1) threads.
WORKERS ?= 2

# One OpenMP thread per process: on 2 cores, 2 threads per worker can run 10x slower.
export OMP_NUM_THREADS   ?= 1
export TORCH_NUM_THREADS ?= 1
export HYPOTHESIS_PROFILE ?= ci

.PHONY: spec test lint format venv lock clean

## spec: the whole executable specification as a checklist by chapter (+ reports/spec.md)
spec: $(STAMP)
	$(PY) -m pytest spec -q -n $(WORKERS) --checklist --spec-report reports/spec.md

## test: what CI runs — lint, then the spec and the project's own tests of its helpers
test: lint
	$(PY) -m pytest spec -q -n $(WORKERS) --durations=5

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

venv: $(STAMP)

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

## lock: re-resolve the direct dependencies of pyproject.toml into requirements.lock
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check '.[test]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^pytorch-notes-spec' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf reports/spec.md .pytest_cache .hypothesis .benchmarks
