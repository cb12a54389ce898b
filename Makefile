# Two commands matter: `make demo` and `make test`. Everything installs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=crm.settings_test

.PHONY: install demo test lint fmt bench messages run fuzz static

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Chart.js is served from our own static files (no CDN: many customers' networks are
# offline). It comes from the npm registry by name and version (npm is a prerequisite),
# with the source map its last line names: collectstatic's manifest storage refuses a
# file whose map is missing.
CHARTJS_VERSION := 4.6.1
CHARTJS := crm/static/crm/vendor/chart.umd.min.js

$(CHARTJS).map:  # and the .js beside it; an install from before the map was fetched gets both again
	mkdir -p $(dir $(CHARTJS))
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null) \
	  && tar -xzf $$tmp/chart.js-$(CHARTJS_VERSION).tgz -C $$tmp package/dist/chart.umd.min.js package/dist/chart.umd.min.js.map \
	  && cp $$tmp/package/dist/chart.umd.min.js.map $(CHARTJS).map \
	  && cp $$tmp/package/dist/chart.umd.min.js $(CHARTJS) && rm -rf $$tmp

## make static: the third-party static files (Chart.js), as production needs them too.
static: $(CHARTJS).map

install: $(STAMP) $(CHARTJS).map
	$(TEST_SETTINGS) $(MANAGE) compile_catalogues

.env:
	printf 'DEBUG=true\nCRM_SMS_BACKEND=console\nCRM_IN_GAME_BACKEND=console\nCRM_WECHAT_BACKEND=console\nSECRET_KEY=%s\n' "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env

## make demo: install, migrate SQLite, load demo data, print logins, serve the admin.
demo: install .env
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	@echo "Open http://127.0.0.1:8000/admin/ and log in with one of the accounts above."
	$(MANAGE) runserver 127.0.0.1:8000

## make test: install, lint, run the whole suite (SQLite unless DATABASE_URL is set) in a
## random order (pytest-randomly); the seed is printed first, `make test SEED=n` repeats it.
test: install lint
	@seed=$${SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	echo "Test order: pytest-randomly seed $$seed (make test SEED=$$seed repeats it)"; \
	$(BIN)/pytest -p randomly --randomly-seed=$$seed

## make fuzz: the API fuzzer (players/tests/test_api_fuzz.py) long: FUZZ_EXAMPLES examples per
## endpoint (the suite runs a few), against PostgreSQL if DATABASE_URL is set; prints its figures.
FUZZ_EXAMPLES ?= 1000
fuzz: install
	CRM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -n 0 -s players/tests/test_api_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: build the dataset once (crm_bench_template, PostgreSQL), then run
## every bench/bench_*.py on a copy of it, printing figures.
bench: install
	$(BIN)/python -m bench.dataset
	$(BIN)/python -m bench.run $(BENCH_ARGS)

messages: $(STAMP)
	$(TEST_SETTINGS) $(MANAGE) compile_catalogues
