# Every target sets itself up: a virtual environment in .venv with spanhouse installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint browser test-slow bench clean

$(BIN)/spanhouse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/spanhouse
	$(BIN)/spanhouse run --config collector.yaml

# mypy runs no import hooks, so it reads the folders through links named as they are installed
# (spanhouse.collector, ...: pyproject.toml's package-dir).
TYPECHECK := build/typecheck/spanhouse
lint: $(BIN)/spanhouse
	mkdir -p $(TYPECHECK)
	for folder in collector adapters exporters proto; do ln -sfn ../../../$$folder $(TYPECHECK)/$$folder; done
	$(BIN)/ruff check .
	$(BIN)/mypy

# The trace viewer's tests drive a real headless Chromium (Debian's package; tests/read/).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| (echo "the viewer tests need Chromium: install Debian's chromium package" && exit 1)

test: lint browser
	$(BIN)/pytest -q

test-slow: $(BIN)/spanhouse
	$(BIN)/pytest -q -m slow

BENCH_ARGS ?= --duration 20 --concurrency 4 --spans-per-request 500
bench: $(BIN)/spanhouse
	$(BIN)/python -m bench.run --protocol otlp-http-proto $(BENCH_ARGS)
	$(BIN)/python -m bench.run --protocol otlp-http-json $(BENCH_ARGS)
	$(BIN)/python -m bench.run --protocol otlp-grpc $(BENCH_ARGS)
	$(BIN)/python -m bench.run --protocol dynamiq $(BENCH_ARGS)
	$(BIN)/python -m bench.run --protocol agentvista $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
