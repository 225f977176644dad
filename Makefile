# `make run` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV    := var/dev

.PHONY: run test bench screenshots clean debian-setup system-test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "Creating the venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@test -f $(DEV)/nvr.toml || $(BIN)/nvr init $(DEV) --staff-in-view no \
	  --dpia-reference "DPIA ontwikkelomgeving" --dpia-date "$$(TZ=Europe/Amsterdam date +%F)" \
	  --signage "hoofdingang (ontwikkelomgeving)"
	$(BIN)/nvr --config $(DEV)/nvr.toml run

# The Debian packages and the locale the tests need: installed when this runs as root or sudo
# works without a password, else it stops with the command to run (tools/debian-setup.sh).
debian-setup:
	@sh tools/debian-setup.sh

test: debian-setup $(STAMP)
	$(BIN)/pytest

# The whole device on a virtual machine (docs/system-test.md): a bookworm image built with
# mmdebstrap (cached by the hash of its inputs), booted under QEMU TCG, checked over ssh and QMP.
system-test: $(STAMP)
	@sh tools/vm/host-setup.sh
	$(BIN)/pytest systemtest -v -s -p no:cacheprovider --timeout=2400 -o testpaths=systemtest

# Refresh the screenshots in docs/ from the browser tests (desktop and 375 px).
screenshots: debian-setup $(STAMP)
	NVR_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/test_browser.py tests/test_browser_events.py \
	  tests/test_browser_a11y.py

bench: $(STAMP)
	$(BIN)/python bench/motion.py
	$(BIN)/python bench/tamper.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/recorder.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/blur.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/hashes.py
	$(BIN)/python bench/day.py

clean:
	rm -rf $(VENV) var build *.egg-info
