# precmed: `make book` builds the whole book, `make test` runs the whole test suite.
# Both create .venv and install everything on first use (Python 3.11 or 3.12).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB_STAMP := $(VENV)/.lab-installed
KERNEL := precmed
JOBS   ?= 2
PROFILE ?= default

.PHONY: help install lab lab-install book test test-fast lint lock browser unit smoke run clean distclean

help:
	@echo "make book    - install, run every study at its default size, build the HTML book"
	@echo "make test    - install, then lint, unit, CLI, notebook, reproducibility, book and browser tests"
	@echo "make test-fast - the inner loop: lint and every test that runs no notebook and builds no book"
	@echo "make run STUDY=cancer_subtyping [PROFILE=smoke] [PARAMS='-p n_repeats=5']"
	@echo "make lab     - install JupyterLab and nbgrader, register the '$(KERNEL)' kernel, open notebooks/"
	@echo "make lab-install - the same without opening JupyterLab"
	@echo "make lock    - regenerate $(LOCK) after changing pyproject.toml's dependencies"
	@echo "make clean   - remove the built book;  make distclean - also runs/ and .venv/"

# The lock pins every package (with hashes) for Linux x86_64, CPU, Python 3.11: on such a machine
# .venv gets exactly those releases; elsewhere pip resolves pyproject.toml's version ranges.
LOCK := locks/linux-x86_64-cpu-py311.txt
LOCK_PLATFORM := import platform, sys; sys.exit(not (sys.version_info[:2] == (3, 11) and platform.system() == "Linux" and platform.machine() == "x86_64"))

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if $(BIN)/python -c '$(LOCK_PLATFORM)'; then \
	  echo "installing the locked releases ($(LOCK))"; \
	  $(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK); \
	else echo "no lock for this Python and platform: installing from pyproject.toml's version ranges"; fi
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# JupyterLab and nbgrader (the `lab` extra) in the same .venv, and the environment registered as
# the Jupyter kernel "precmed" (inside .venv: nothing is written to the user's home folder).
$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lab]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (precmed)"
	@touch $(LAB_STAMP)

lab-install: $(LAB_STAMP)

lab: $(LAB_STAMP)
	cd notebooks && ../$(BIN)/jupyter lab

book: $(STAMP)
	$(BIN)/precmed book --profile $(PROFILE) --jobs $(JOBS)

run: $(STAMP)
	@test -n "$(STUDY)" || (echo "usage: make run STUDY=<id> [PROFILE=smoke] [PARAMS='-p name=value']"; exit 2)
	$(BIN)/precmed run $(STUDY) --profile $(PROFILE) $(PARAMS)

# Regenerate the lock after changing pyproject.toml's dependencies (needs the package index; the
# CPU build of torch comes from PIP_FIND_LINKS or PyTorch's CPU index, see README "GPU").
lock:
	test -x .venv-uv/bin/uv || ($(PYTHON) -m venv .venv-uv && .venv-uv/bin/python -m pip install --quiet uv)
	.venv-uv/bin/uv pip compile pyproject.toml --extra test --extra lab --generate-hashes --quiet \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header \
	  $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) -o $(LOCK).new
	(echo "# Every package of .venv, pinned with hashes, for Linux x86_64 (CPU), Python 3.11: make installs it."; \
	 echo "# Regenerate with 'make lock' after changing pyproject.toml (tests/unit/test_environment.py checks"; \
	 echo "# that it satisfies pyproject.toml's ranges). torch is the CPU build (+cpu)."; \
	 cat $(LOCK).new) > $(LOCK) && rm $(LOCK).new

lint: $(STAMP)
	$(BIN)/ruff check precmed_utils tests benchmarks notebooks

# The browser test (tests/test_browser.py) drives the system's Chromium through ChromeDriver:
# installed here from the system packages when missing and we are root; otherwise say how.
CHROMIUM     := $(or $(PRECMED_CHROMIUM),/usr/bin/chromium)
CHROMEDRIVER := $(or $(PRECMED_CHROMEDRIVER),/usr/bin/chromedriver)

browser:
	@if [ "$(PRECMED_SKIP_BROWSER)" = 1 ]; then echo "PRECMED_SKIP_BROWSER=1: the browser test is skipped"; \
	elif [ -x "$(CHROMIUM)" ] && [ -x "$(CHROMEDRIVER)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium and ChromeDriver for the browser test (apt-get, about 1-2 min)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
	  echo "The browser test needs Chromium and ChromeDriver ($(CHROMIUM), $(CHROMEDRIVER)):"; \
	  echo "  sudo apt-get install chromium chromium-driver   (Debian/Ubuntu), or set PRECMED_CHROMIUM"; \
	  echo "  and PRECMED_CHROMEDRIVER; PRECMED_SKIP_BROWSER=1 skips it. Without them it fails."; \
	fi

test: $(LAB_STAMP) lint browser
	$(BIN)/python -m pytest tests --durations=30

test-fast: $(LAB_STAMP) lint
	$(BIN)/python -m pytest tests -m "not slow" --durations=10

clean:
	rm -rf _build

distclean: clean
	rm -rf runs $(VENV)
