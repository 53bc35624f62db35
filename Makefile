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
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The real stack (docker-compose.yml), twice (as is, and with MLflow's basic auth): up with 2
# workers, checked through its ports, down -v. Needs a Docker API; on machines without Docker
# the script starts `../shared/container/engine` (podman) itself, and then builds torch from
# the stand-in base image's CPU wheel. TORCH_INDEX_URL=URL picks the image's torch index.
compose-test: $(VENV)/.dev
	$(BIN)/python scripts/compose_test.py $(if $(TORCH_INDEX_URL),--torch-index-url '$(TORCH_INDEX_URL)')

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) outputs multirun mlruns mlartifacts mlflow.db optuna.db .import_linter_cache .grimp_cache
