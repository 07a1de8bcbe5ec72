# Quick start: `make demo` (install + plan → apply → drift on the embedded sandbox), `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-slow lint bench install install-test install-lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

# The lint tools (ruff, mypy, type stubs) are their own extra: `make test` does not install them, `make lint` does.
$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[lint]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-lint: $(VENV)/.installed-lint

demo: install
	$(BIN)/clumio-org demo

# The whole fast suite on both cores; slower suites are marked `slow` and run by .ci/run.
test: install-test
	$(BIN)/python -m pytest -n 2 -m "not slow"

test-slow: install-test
	$(BIN)/python -m pytest -n 2 -m slow; rc=$$?; if [ $$rc -eq 5 ]; then echo "no slow tests"; exit 0; fi; exit $$rc

lint: install-lint
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/mypy --strict reconciler/core reconciler/config reconciler/discover reconciler/plan reconciler/drift reconciler/files \
	  reconciler/usecases reconciler/apply

# Every benchmark runs (one after another: they measure wall time) and prints its figures against their bounds;
# `make bench` exits 1 when any bound was missed. `make bench BENCH_ARGS=--quick` runs them all in a minute at small
# sizes: calls, memory and counts are judged; speed-ups, CPU per instance and wall ratios only print (full size only).
bench: install-test
	@failed=""; for b in benchmarks/*.py; do echo "== $$b $(BENCH_ARGS)"; \
	  $(BIN)/python $$b $(BENCH_ARGS) || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "bounds missed in:$$failed"; exit 1; fi; echo "every bound met"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .clumio-org
