# Two commands on a fresh machine: `make run` (the bot in sandbox mode) and `make test`.
# Both do all set-up first through `make install`, which is idempotent and quick when done.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
BIN     := $(VENV)/bin
STAMPS  := .make
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# python3.10 on PATH when it really runs (a pyenv shim may not), else pyenv's newest 3.10.
PYTHON310 := $(shell if python3.10 -c pass >/dev/null 2>&1; then command -v python3.10; \
  else ls -d $(PYENV_ROOT)/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n 1; fi)

# The model is named by a hash of everything that trains it: retrain only when that changes.
TRAIN_FILES := dialogue/config.yml dialogue/domain.yml $(sort $(wildcard dialogue/rules/*.yml dialogue/stories/*.yml nlu_data/*/*.yml))
MODEL_HASH   = $(shell cat $(TRAIN_FILES) | sha256sum | cut -c1-16)
MODEL        = models/$(MODEL_HASH).tar.gz

export FLASK_APP := bot
export ACTION_SERVER_URL ?= http://localhost:5055/webhook

.PHONY: help install python deps redis postgres browser migrate model demo run test test-postgres test-instants lint validate stories clean translations extract-messages

help:
	@echo "make run    set up everything, then start the bot in sandbox mode (simulator URL printed)"
	@echo "make test   set up everything, then lint, validate the Rasa data and run all tests"
	@echo "make install / migrate / model / demo / lint / validate / stories / test-postgres / test-instants / clean"
	@echo "make browser / postgres (Debian packages some tests need)"
	@echo "make translations / extract-messages (console catalogues)"

install: deps translations redis postgres migrate model

python:
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "Python 3.10 not found: put python3.10 on PATH or install it with pyenv (pyenv install 3.10)."; \
	  echo "Rasa Open Source 3.6 supports Python 3.8 to 3.10 only."; exit 1; fi

$(BIN)/python: | python
	@$(PYTHON310) -c 'import sqlite3, ssl, ctypes, lzma, bz2' || { \
	  echo "$(PYTHON310) lacks a standard module (sqlite3, ssl, ctypes, lzma or bz2):"; \
	  echo "install the Debian -dev packages (libsqlite3-dev libssl-dev libffi-dev liblzma-dev"; \
	  echo "libbz2-dev) and rebuild that Python (pyenv install --force 3.10)."; exit 1; }
	$(PYTHON310) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install --quiet --upgrade "pip<25" "setuptools<71" wheel || { rm -rf $(VENV); exit 1; }

deps: $(STAMPS)/deps
$(STAMPS)/deps: requirements.txt requirements-dev.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	@mkdir -p $(STAMPS) && touch $@

# Debian packages: installed with apt-get (as root or with sudo) when missing.
define apt_install
	@if ! command -v $(1) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then SUDO=; \
	  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then SUDO=sudo; \
	  else echo "$(1) is missing: install the Debian package $(2) (apt-get install $(2)) and retry."; exit 1; fi; \
	  echo "installing $(2) with apt-get"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	fi
endef

redis:
	$(call apt_install,redis-server,redis-server)

# The consoles' message catalogues (Flask-Babel): compiled from the committed .po files.
CATALOGUES := $(wildcard bot/web/translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)
bot/web/translations/%/LC_MESSAGES/messages.mo: bot/web/translations/%/LC_MESSAGES/messages.po | deps
	$(BIN)/pybabel compile --use-fuzzy -d bot/web/translations -l $* >/dev/null

# After changing console texts: extract them and merge into the catalogues (then translate
# the new entries; tests/unit/web/console/test_i18n.py fails while one is missing).
extract-messages: deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --omit-header -o bot/web/translations/messages.pot .
	$(BIN)/pybabel update -i bot/web/translations/messages.pot -d bot/web/translations \
	  --ignore-obsolete --no-fuzzy-matching

# PostgreSQL (production's database): tests start a throwaway cluster of it (tests/unit/ledger).
# Browser tests drive Debian's Chromium with Playwright (Playwright's own download cannot work offline).
browser:
	$(call apt_install,chromium,chromium)

# PostgreSQL's server for the tests that claim production behaviour (bot/testing/postgres.py starts
# a throwaway cluster per test module); Debian keeps initdb in /usr/lib/postgresql/<version>/bin.
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then SUDO=; \
	  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then SUDO=sudo; \
	  else echo "PostgreSQL is missing: install the Debian package postgresql and retry."; exit 1; fi; \
	  echo "installing postgresql with apt-get"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

migrate: deps
	@$(BIN)/flask db-upgrade

model: $(MODEL)
$(MODEL): | deps
	@echo "training the Rasa model ($(MODEL))"
	@rm -f models/*.tar.gz
	$(BIN)/rasa train --quiet --config dialogue/config.yml --domain dialogue/domain.yml \
	  --data nlu_data dialogue/rules --out models --fixed-model-name $(MODEL_HASH)

demo: migrate
	@$(BIN)/flask load-demo --history

run: install demo
	@echo "starting web, worker, rasa, actions and redis; simulator at http://localhost:5000/simulator"
	$(BIN)/honcho start -f Procfile.dev

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

validate: deps
	$(BIN)/rasa data validate --fail-on-warnings --domain dialogue/domain.yml \
	  --data nlu_data dialogue/rules --config dialogue/config.yml

stories: model
	$(BIN)/rasa test core --stories tests/stories --model $(MODEL) \
	  --fail-on-prediction-errors --out $(STAMPS)/rasa-results >$(STAMPS)/rasa-test.log 2>&1 \
	  || { tail -n 40 $(STAMPS)/rasa-test.log; cat $(STAMPS)/rasa-results/failed_test_stories.yml; exit 1; }
	@grep -h "Correct:" $(STAMPS)/rasa-test.log | tail -n 1

# The unit suite again at instants that once broke it (night outside agent hours, before the
# demo debts fall due, a holiday) with the machine's zone far from UTC: no test may depend on
# when CI runs (tests/conftest.py reads TEST_NOW).
INSTANTS := 2026-01-04T08:30:00+00:00@Pacific/Kiritimati 2031-12-25T04:59:30+00:00@America/Los_Angeles

test: install browser postgres lint validate stories
	MODEL_PATH=$(MODEL) $(BIN)/pytest $(PYTEST_ARGS)
	@if [ -z "$(PYTEST_ARGS)" ]; then $(MAKE) --no-print-directory test-postgres test-instants; fi

# The whole suite again (unit, e2e, simulation) on production's database: a throwaway PostgreSQL
# server, each unit test on its own copy of a migrated database, the e2e stacks on theirs.
test-postgres: deps redis postgres browser model
	@echo "pytest on PostgreSQL (TEST_DATABASE=postgresql)"
	TEST_DATABASE=postgresql MODEL_PATH=$(MODEL) $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-instants: deps redis
	@for at in $(INSTANTS); do \
	  echo "unit tests at $${at%@*} (TZ=$${at#*@})"; \
	  TEST_NOW=$${at%@*} TZ=$${at#*@} $(BIN)/pytest tests/unit -q -p no:cacheprovider || exit 1; \
	done

clean:
	rm -rf $(VENV) $(STAMPS) .rasa models/*.tar.gz instance .pytest_cache .ruff_cache
