# Gongzhi: the two commands are `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Where `make test` looks for PostgreSQL; the suite runs there too when it answers.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test test-fast test-sqlite test-postgres lint fmt messages venv assets bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# Front-end assets (htmx) from package-lock.json into the ignored node_modules/, served by Django. Only
# where npm exists, and a failure (no registry on an intranet) is not fatal: the pages work without them.
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error || echo "== npm ci failed: pages will work without htmx =="; \
	else \
		echo "== npm not found: pages will work without htmx =="; \
	fi

assets: node_modules/.package-lock.json

venv: $(STAMP) assets

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --scale small --if-empty
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Gongzhi is starting on http://$(HOST):$(PORT)/"
	@echo "  Demo logins (password gongzhi-demo): admin leader dispatcher dept town village grid party volunteer resident"
	@echo "  API docs: http://$(HOST):$(PORT)/api/v1/docs"
	@echo "  Workers: run_deadlines (time limits, 催办/督办, closing unrated orders), run_outbox (SMS), run_sos (one-key call escalation), run_points (points expiry, lapsed reservations), run_rollups (dashboard tallies, hot topics), run_mediation (mediation time limits, follow-up visits), run_webhooks (webhooks to other systems) and run_imports (12345 hotline files) run alongside; one that dies is restarted"
	@echo "  Health: http://$(HOST):$(PORT)/health"
	@echo ""
	@# `serve` starts the server (granian, gongzhi.asgi's one-port app: see core/management/commands/serve.py)
	@# and the workers as its children, restarts a worker that dies, and stops them all on Ctrl-C.
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

# The SQLite and PostgreSQL passes run side by side, one core each (each pass is one process; their test
# databases carry the process id, so they never meet): ~35 minutes instead of ~65 one after the other.
# PostgreSQL's output is held in a file and printed after SQLite's, so the two do not interleave.
test: venv
	@$(MAKE) --no-print-directory lint
	@pglog=$$(mktemp -t gongzhi-pg.XXXXXX); \
	$(MAKE) --no-print-directory test-postgres >$$pglog 2>&1 & pgpid=$$!; \
	$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	if [ $$sqlite -eq 0 ]; then echo "== SQLite pass passed; waiting for the PostgreSQL pass =="; fi; \
	wait $$pgpid; postgres=$$?; \
	cat $$pglog; rm -f $$pglog; \
	echo "== SQLite pass: $$( [ $$sqlite -eq 0 ] && echo passed || echo FAILED ); PostgreSQL pass: $$( [ $$postgres -eq 0 ] && echo passed or skipped || echo FAILED ) =="; \
	[ $$sqlite -eq 0 ] && [ $$postgres -eq 0 ]

# The developers' quick loop: SQLite only, without the slow tests (demo counties, the worker killed and
# restarted, the random state machine) and the browser. `make test` and CI still run everything.
test-fast: venv
	env -u DATABASE_URL $(BIN)/pytest -m "not slow and not browser" $(PYTEST_ARGS)

test-sqlite: venv
	@echo "== tests on SQLite =="
	env -u DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: venv
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(TEST_DATABASE_URL)'.replace('postgres://','postgresql://',1), connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(TEST_DATABASE_URL)) =="; \
		DATABASE_URL=$(TEST_DATABASE_URL) DB_POOL_TIMEOUT=$${DB_POOL_TIMEOUT:-30} $(BIN)/pytest -m "not browser" $(PYTEST_ARGS); \
	else \
		echo "== PostgreSQL not reachable at $(TEST_DATABASE_URL): skipping the PostgreSQL run (the SQLite run above is the whole test) =="; \
	fi

# mypy reads pyproject.toml; its cache (.mypy_cache/) takes ~14 s to build, then ~1 s a run. The cache misses a
# change of a value's type in gongzhi/settings.py (the Django plugin reads settings outside mypy's dependency
# graph): after one, rm -rf .mypy_cache.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run -v0

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract strings and compile catalogues (needs GNU gettext; the compiled .mo files are committed so
# that `make run` does not).
messages: venv
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var --ignore=bench -v0
	$(BIN)/python manage.py compilemessages --ignore=.venv -v0

bench: venv
	$(BIN)/python bench/seed.py
	$(BIN)/python bench/api_read.py

clean:
	rm -rf $(VENV) var/staticfiles
