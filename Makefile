# unposted: `make run` starts the demo, `make test` runs the whole suite.
# Both set up .venv first (and `make test` the browser and promtool), so each is the only
# command a fresh machine needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint tools unit bench reliability vendor-docs clean

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

# The console's browser tests drive Debian's chromium (Playwright downloads no browser here),
# the monitoring tests Debian's prometheus (promtool and the server); as root they are
# installed when missing. Without them those tests skip, or fail when CI is set.
tools:
	@(command -v chromium && command -v promtool) >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| ! command -v apt-get >/dev/null 2>&1 || (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium prometheus >/dev/null) \
		|| echo "test: could not install chromium and prometheus; the browser and monitoring tests need them"

# Four workers on two cores: a test spends much of its time waiting on the servers and
# processes it starts, and four keep both cores busy (about 535 s against 660 s with two).
# A module's tests stay on one worker, so a module-scoped fixture is made once; modules go
# out in the order tests/conftest.py gives them (the longest first), not by test count.
test: lint tools
	$(BIN)/python -m pytest -n 4 --dist loadscope --no-loadscope-reorder

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

# /docs and /redoc serve Swagger UI and ReDoc from app/console/static/vendor, never a CDN.
# `make vendor-docs` replaces those files with the releases pinned here, from the npm registry:
# the bundles, Swagger UI's stylesheet and the licences. ReDoc's sidebar shows Redocly's logo
# from its CDN, always: its address is emptied (the image is then not drawn, nothing fetched).
SWAGGER_UI_DIST := 5.35.0
REDOC := 2.5.4
VENDOR := app/console/static/vendor
REDOC_LOGO := https://cdn.redoc.ly/redoc/logo-mini.svg

vendor-docs:
	rm -rf $(VENDOR).new && mkdir -p $(VENDOR).new/swagger-ui $(VENDOR).new/redoc
	cd $(VENDOR).new && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_DIST) redoc@$(REDOC) >/dev/null
	tar -xzf $(VENDOR).new/swagger-ui-dist-$(SWAGGER_UI_DIST).tgz -C $(VENDOR).new/swagger-ui \
		--strip-components=1 package/LICENSE package/NOTICE package/swagger-ui.css \
		package/swagger-ui-bundle.js package/swagger-ui-bundle.js.LICENSE.txt
	tar -xzf $(VENDOR).new/redoc-$(REDOC).tgz -C $(VENDOR).new/redoc --strip-components=1 package/LICENSE
	tar -xzf $(VENDOR).new/redoc-$(REDOC).tgz -C $(VENDOR).new/redoc --strip-components=2 \
		package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt
	$(PYTHON) -c 'import pathlib, sys; f = pathlib.Path(sys.argv[1]); text = f.read_text("utf-8"); \
		text.count(sys.argv[2]) == 1 or sys.exit("vendor-docs: the ReDoc logo address changed"); \
		f.write_text(text.replace(sys.argv[2], ""), "utf-8")' $(VENDOR).new/redoc/redoc.standalone.js $(REDOC_LOGO)
	printf 'swagger-ui-dist %s\nredoc %s\n' $(SWAGGER_UI_DIST) $(REDOC) > $(VENDOR).new/VERSIONS
	rm $(VENDOR).new/*.tgz && rm -rf $(VENDOR) && mv $(VENDOR).new $(VENDOR)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
