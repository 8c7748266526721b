PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo models bench clean lint

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check model service robot db diffmix migrations benchmarks tests
	$(BIN)/mypy

# `make demo ARGS=--serve` keeps the service, the robot and the console running afterwards, until Ctrl-C
demo: install
	$(BIN)/diffmix demo $(ARGS)

# Re-train the shipped pretrained ensembles under models/ (see README).
models: install
	bash benchmarks/run_paper.sh shipped

# The speed, optimiser and service benchmarks of benchmarks/RESULTS.md.
bench: install
	$(BIN)/python -m benchmarks.bench_model
	$(BIN)/python -m benchmarks.bench_optimize
	$(BIN)/python -m benchmarks.bench_service

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
