# tts-bench — `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install install-test demo test lint bench clean

# Installs with uv when it can (the uv on PATH, else one pip puts in the venv): a fresh venv
# takes seconds instead of minutes (docs/benchmarks.md, "Install"). Plain pip does the
# install when uv cannot be had or fails. $(call pkgs,SPEC) installs SPEC into the venv.
UV = $(or $(shell command -v uv),$(BIN)/uv)
define pkgs
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	{ { command -v uv >/dev/null || $(BIN)/python -m pip install -q uv; } \
	  && $(UV) pip install -q --python $(BIN)/python $(1); } \
	|| { echo "uv unavailable: installing with pip"; $(BIN)/python -m pip install -q $(1); }
endef

# The tool itself (what `make demo` needs).
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(call pkgs,-e .)
	touch $@

# Plus the test tools, the Inspect extra (for the Inspect-log import test) and the Ray extra
# (for the Ray executor's test; ray alone, into an empty venv: 2-4 s with uv, 24 s with pip).
TEST_EXTRAS := .[test,inspect,ray]
install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: pyproject.toml
	$(call pkgs,-e '$(TEST_EXTRAS)')
	touch $(VENV)/.installed $@

# Ends by saying how to open the report it wrote (the newest under results/).
demo: install
	$(BIN)/tts-bench run suites/demo.yaml
	@report=$$(ls -t results/*/report.html 2>/dev/null | head -1); \
	if [ -n "$$report" ]; then \
	  echo ""; \
	  echo "Open the report: xdg-open $$report   (macOS: open $$report)"; \
	  echo "or serve it:     $(BIN)/python -m http.server -d $$(dirname $$report) 8000"; \
	  echo "                 then browse http://localhost:8000/report.html"; \
	fi

# Browser tests need Debian's chromium; scripts/ensure-chromium.sh installs it when it can
# and says loudly when it cannot (those tests then skip with that message).
test: install-test
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install-test
	$(BIN)/ruff check tts_bench tests benchmarks scripts
	$(BIN)/ruff format --check tts_bench tests benchmarks scripts

bench: install-test
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/analysis.py
	$(BIN)/python benchmarks/import_pool.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
