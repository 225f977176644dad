# `make run` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV    := var/dev

.PHONY: run test bench screenshots clean check-debian

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

check-debian:
	@missing=""; \
	for cmd in ffprobe pdftotext 7z chromium faketime; do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
	  echo "The tests need$$missing. Install: apt-get install -y $$(grep -v '^#' debian-packages.txt | tr '\n' ' ')"; \
	  exit 1; fi; \
	if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
	  echo "The documents (PDF) need the DejaVu fonts: apt-get install -y fonts-dejavu-core"; \
	  exit 1; fi; \
	if ! locale -a 2>/dev/null | grep -qix 'nl_NL.utf-\?8'; then \
	  echo "The tests need the locale nl_NL.UTF-8: apt-get install -y locales; sed -i 's/^# *nl_NL.UTF-8 UTF-8/nl_NL.UTF-8 UTF-8/' /etc/locale.gen; locale-gen"; \
	  exit 1; fi

test: $(STAMP) check-debian
	$(BIN)/pytest

# Refresh the screenshots in docs/ from the browser test.
screenshots: $(STAMP) check-debian
	NVR_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/test_browser.py tests/test_browser_events.py

bench: $(STAMP)
	$(BIN)/python bench/motion.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/recorder.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/blur.py

clean:
	rm -rf $(VENV) var build *.egg-info
