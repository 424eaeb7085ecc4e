# precmed: `make book` builds the whole book, `make test` runs the whole test suite.
# Both create .venv and install everything on first use (Python 3.11 or 3.12).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
PROFILE ?= default

.PHONY: help install book test lint unit smoke run clean distclean

help:
	@echo "make book    - install, run every study at its default size, build the HTML book"
	@echo "make test    - install, then lint, unit, CLI, notebook, reproducibility and book tests"
	@echo "make run STUDY=cancer_subtyping [PROFILE=smoke] [PARAMS='-p n_repeats=5']"
	@echo "make clean   - remove the built book;  make distclean - also runs/ and .venv/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/precmed book --profile $(PROFILE) --jobs $(JOBS)

run: $(STAMP)
	@test -n "$(STUDY)" || (echo "usage: make run STUDY=<id> [PROFILE=smoke] [PARAMS='-p name=value']"; exit 2)
	$(BIN)/precmed run $(STUDY) --profile $(PROFILE) $(PARAMS)

lint: $(STAMP)
	$(BIN)/ruff check precmed_utils tests

test: $(STAMP) lint
	$(BIN)/python -m pytest tests

clean:
	rm -rf _build

distclean: clean
	rm -rf runs $(VENV)
