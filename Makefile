# Two entry points that work on a fresh clone: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint figures locales clean image bench bench-ocr system-packages

# Debian packages the bot itself needs: Tesseract with Russian (and Kazakh) data reads photographed
# invoices (services/ocr.py), DejaVu draws the test invoices; installed as root when missing, by
# `make run` (system-packages) and `make test` (with the suite's own), one apt-get update at most.
OCR_MISSING := command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr"; \
	[ -f /usr/share/tesseract-ocr/5/tessdata/rus.traineddata ] || missing="$$missing tesseract-ocr-rus"; \
	[ -f /usr/share/tesseract-ocr/5/tessdata/kaz.traineddata ] || missing="$$missing tesseract-ocr-kaz"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"
INSTALL_MISSING := if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	  else echo "not root, not installing:$$missing"; fi; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "Need Python 3.11+ (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

system-packages:
	@missing=""; $(OCR_MISSING); $(INSTALL_MISSING)

run: $(STAMP) system-packages
	$(BIN)/cvety-bot run

test: $(STAMP)
	@# the suite starts a throwaway PostgreSQL and Redis, the proxy test an nginx, the OCR tests
	@# Tesseract: a fresh Debian machine (as root) gets whichever is missing here, with one apt-get update
	@missing=""; $(OCR_MISSING); \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	$(INSTALL_MISSING)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers runtime views services sandbox bench
	$(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers runtime views services sandbox bench

figures: $(STAMP)
	$(BIN)/python -m tests.figures

bench: $(STAMP)
	$(BIN)/python -m bench.speed

bench-ocr: $(STAMP) system-packages
	$(BIN)/python -m bench.ocr

locales: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k __ -k lazy_gettext --no-location --omit-header --sort-output -o views/locales/messages.pot .
	for l in ru kk en; do [ -f views/locales/$$l/LC_MESSAGES/messages.po ] || $(BIN)/pybabel init -i views/locales/messages.pot -d views/locales -D messages -l $$l; done
	$(BIN)/pybabel update -i views/locales/messages.pot -d views/locales -D messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d views/locales -D messages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Build the Docker image and run the bot in it (demo mode, fake Bot API), as root: installs docker.io,
# debootstrap, docker-compose when missing, starts a private dockerd in a temp folder, bases the image
# on a debootstrapped Debian (cached in ~/.cache/cvety-bot-image) and checks compose.yaml. Takes
# minutes, so it is not part of `make test`. SAVE=cvety-bot.tar keeps the image (docker load -i);
# BASE=python:3.11-slim builds from a registry image instead.
image: $(STAMP)
	$(BIN)/python -m deploy.image $(if $(SAVE),--save $(SAVE)) $(if $(BASE),--base $(BASE))
