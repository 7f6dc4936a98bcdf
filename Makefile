# Readroom: `make demo` runs the whole thing on this machine, `make test` runs the suite.
# Both create .venv and install what they need, Debian packages included; re-running is safe.

VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check -q
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# PortAudio for sounddevice; espeak-ng, sox and PulseAudio for the real-microphone dictation
# tests; tmux for the terminal benchmark; poppler and Ghostscript for PDFs and fax pages.
APT_PACKAGES := libportaudio2 espeak-ng sox pulseaudio pulseaudio-utils libasound2-plugins \
                tmux poppler-utils ghostscript libtiff-tools

.PHONY: demo test lint system-deps

demo: system-deps $(VENV)/.installed
	$(VENV)/bin/readroom-server demo run

test: system-deps $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed
