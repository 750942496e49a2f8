# Simpul: `make run` starts everything, `make test` passes the tests. Both set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test test-long bench clean-state help

help:
	@echo "make run    set up, start the platform and the pipeline"
	@echo "make test   set up and run the test suite on the real platform"
	@echo "make test-long  the chaos tests (kills of every stage, and of one of three brokers)"
	@echo "make bench  set up and run the benchmarks"

setup: $(VENV)/.installed
	$(BIN)/simpul platform fetch

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Simpul needs Python 3.11 or newer (found %s)" % sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: setup
	$(BIN)/simpul run

test: setup
	$(BIN)/pytest

test-long: setup
	SIMPUL_LONG_TESTS=1 $(BIN)/pytest tests/integration/test_chaos.py tests/integration/test_chaos_brokers.py -s

bench: setup
	$(BIN)/simpul platform up --with-postgres
	$(BIN)/python -m bench

clean-state:
	-$(BIN)/simpul platform down
	rm -rf var
