# Two commands do all set-up on a fresh machine (see README):
#   make run   - create .venv if missing, install, train the default agent and print its evaluation
#   make test  - create .venv if missing, install, run the test suite (slow learning tests excluded)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers of `make test` (its 10-minute budget is for 2 cores; module fixtures and
# the Ray session start once per worker). The slow tests time and train: they stay one at a time.
TEST_WORKERS ?= 2

.PHONY: run test test-slow test-all bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first: on these machines torch==2.13.0 is a local CPU wheel; anything else pulls CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[rllib,export,sweep,dev]'
	@touch $(STAMP)

run: $(STAMP)
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
