# Two commands for a fresh machine: `make run` (the product on its embedded defaults)
# and `make test` (the whole suite). Both create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SHARED_MODELS ?= $(abspath ../shared/models)

# Offline model folders (this machine cannot reach model hubs). Where ../shared/models exists
# and nothing else is set, use it; elsewhere fastembed downloads the same models by name.
ifneq ($(wildcard $(SHARED_MODELS)/all-MiniLM-L6-v2-onnx),)
export SUPPORTBOT_EMBED_MODEL_PATH ?= $(SHARED_MODELS)/all-MiniLM-L6-v2-onnx
export SUPPORTBOT_SPARSE_MODEL_PATH ?= $(SHARED_MODELS)/bm25
export HF_HUB_OFFLINE ?= 1
endif

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/supportbot migrate
	$(BIN)/supportbot kb ingest $${SUPPORTBOT_KB_DIR:-knowledge/samples}
	$(BIN)/supportbot run

test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install
	for b in tests/benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
