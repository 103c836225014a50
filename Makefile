# unposted: `make run` starts the demo, `make test` runs the whole suite.
# Both set up .venv first (and `make test` the browser), so each is the only command a
# fresh machine needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint browser unit bench reliability clean

$(STAMP): pyproject.toml client/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "unposted needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./client -e '.[dev,demo]' --config-settings editable_mode=compat
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python -m app demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The console's browser tests drive Debian's chromium (Playwright downloads no browser here);
# as root it is installed when missing. Without it they skip, or fail when CI is set.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "test: could not install chromium; the console's browser tests need it"

test: lint browser
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest tests/unit

# wrk drives the /select load test; as root it is installed from Debian's packages, and
# without it the benchmark falls back to a Python load generator (and says so).
bench: setup
	$(BIN)/python -m pip install --quiet -e ./client -e '.[dev,demo,bench]' --config-settings editable_mode=compat
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) \
		|| echo "bench: could not install wrk; using the Python load generator"
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

reliability: setup
	$(BIN)/python -m pytest tests/reliability --long

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
