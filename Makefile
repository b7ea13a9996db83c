# Two commands on a fresh clone: `make book` and `make test`. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= embedded
STAMP := $(VENV)/.installed-stamp
# pip lists every local index folder it skips; keep the log readable.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }
PIP := $(PY) -m pip install --no-compile
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv pip install --python $(PY)
EXTRAS := '.[book,test]'
# $(call pip_install,ARGS): uv pip install ARGS, or pip install ARGS where uv is missing or fails
pip_install = $(UV) $(1) 2>&1 | $(QUIET_PIP) || { \
	echo "[install] uv is missing or failed: installing with pip"; \
	$(PIP) $(1) 2>&1 | $(QUIET_PIP); }

.PHONY: install book test lint sync bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "[install] $(VENV) (pins: constraints.txt)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# uv unpacks the wheels in parallel (install times: README); where uv cannot be had or
	@# fails (it reads no pip.conf), pip does the same install.
	$(PY) -m pip install -q 'uv==$(UV_VERSION)' 2>&1 | $(QUIET_PIP) || true
	$(call pip_install,-q -c constraints.txt -e $(EXTRAS))
	@# animal-mnist declares tensorflow, which we never import: install its data without deps.
	$(call pip_install,-q --no-deps 'animal-mnist==0.4')
	@touch $@

book: install
	$(PY) -m cibr_lab.book --profile $(PROFILE)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check cibr_lab tests benchmarks book
	$(VENV)/bin/ruff format --check cibr_lab tests benchmarks

sync: install
	$(VENV)/bin/jupytext --sync book/[0-9][0-9]_*.py

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf _build results
