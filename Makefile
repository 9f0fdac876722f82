# Two commands do all set-up on a fresh machine (see README):
#   make run   - create .venv if missing, install, train the default agent and print its evaluation
#   make test  - create .venv if missing, install, run the test suite (slow learning tests excluded)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-core
# pytest-xdist workers of `make test` (its 10-minute budget is for 2 cores; module fixtures and
# the Ray session start once per worker). The slow tests time and train: they stay one at a time.
TEST_WORKERS ?= 2

.PHONY: run test test-slow test-all bench lint clean

# Two stamps: `make run` needs the core dependencies only; the extras (Ray, onnxruntime, the
# sweepers, the test tools) come with the first target that needs them.
# --no-compile: pip's byte-compilation of every installed module (most of torch is never
# imported by a run) was more than half of the install's time; the modules a run imports are
# compiled when imported. The tests start many interpreters, and an environment with
# PYTHONDONTWRITEBYTECODE set would recompile at every start, so the full install
# byte-compiles site-packages once, on every core (as pip, it skips the few files that are not
# Python 3.11, such as a Python 3.12 test module of torch).
$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first: on these machines torch==2.13.0 is a local CPU wheel; anything else pulls CUDA.
	$(BIN)/python -m pip install -q --no-compile torch==2.13.0
	$(BIN)/python -m pip install -q --no-compile -e .
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -q --no-compile -e '.[rllib,export,sweep,dev]'
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') > /dev/null 2>&1 || true
	@touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/python train.py

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q -p no:cacheprovider -n $(TEST_WORKERS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q -p no:cacheprovider

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_envs.py
	$(BIN)/python benchmarks/bench_decisions.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache .ruff_cache build dist
