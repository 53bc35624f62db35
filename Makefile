# `make run` and `make test` do all set-up: they create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test serve compose-test lint format bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m sweep +experiment=lr_grid

# A local tracking server and dashboard on the embedded store that `make run` writes.
serve: $(VENV)/.installed
	$(BIN)/python scripts/serve_mlflow.py --dir . --port 5000 --artifacts mlartifacts

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# The real stack (docker-compose.yml): up with 2 workers, checked through its ports, down -v.
# Needs a Docker API; on machines without Docker, `../shared/container/engine up` first (the
# script reads `engine env` itself). TORCH_INDEX_URL is the image's torch index: empty means
# pip's configured indexes (there, the stand-in base image's CPU wheel); elsewhere run
# `make compose-test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`.
TORCH_INDEX_URL ?=
compose-test: $(VENV)/.dev
	$(BIN)/python scripts/compose_test.py --torch-index-url '$(TORCH_INDEX_URL)'

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) outputs multirun mlruns mlartifacts mlflow.db optuna.db
