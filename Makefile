# The two commands a newcomer needs: `make run` (service, embedded defaults) and `make test`.
# Both create the virtual environment and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cds-service serve --dev

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# `make bench` (issue 14): the service and the echo floor served on loopback with 1 and 2
# workers, every budget of the issue measured with wrk, written to benchmarks/RESULTS.md,
# results.json and latency-vs-size.png (about 4 minutes; run it on a quiet machine).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench: installing wrk (Debian package)"; \
		$(SUDO) apt-get install -y --no-install-recommends wrk || { echo "make bench needs wrk \
		(apt-get install wrk); without it: $(BIN)/python -m benchmarks.run --python-load"; exit 1; }; }
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
