# Two entry points that work on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint locales clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Need $(PYTHON) (Python 3.11+) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/cvety-bot run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers services sandbox
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers services sandbox

locales: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k __ -k lazy_gettext --no-location --omit-header --sort-output -o bot/locales/messages.pot .
	for l in ru kk en; do [ -f bot/locales/$$l/LC_MESSAGES/messages.po ] || $(BIN)/pybabel init -i bot/locales/messages.pot -d bot/locales -D messages -l $$l; done
	$(BIN)/pybabel update -i bot/locales/messages.pot -d bot/locales -D messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d bot/locales -D messages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
