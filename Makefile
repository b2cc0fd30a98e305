# tts-bench — `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint browser bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test,inspect]'
	touch $(STAMP)

demo: install
	$(BIN)/tts-bench run suites/demo.yaml

# Browser tests need Debian's chromium; scripts/ensure-chromium.sh installs it when it can
# and says loudly when it cannot (those tests then skip with that message).
test: install
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check tts_bench tests benchmarks
	$(BIN)/ruff format --check tts_bench tests benchmarks

bench: install
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/analysis.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
