# Deep Recommender Systems — build, test and benchmark entry points.
#   make venv    create .venv (pinned by requirements/constraints.txt)
#   make book    build the HTML book (notebooks are NOT executed; outputs are committed)
#   make test    unit tests, notebook re-execution (nbval), course kit, Colab, book build, browser check
#   make test-unit  the unit tests alone (the developer loop, under 3 min)
#   make course  the course kit: student and instructor editions of every chapter, autograder (nbgrader)
#   make bench   run the SASRec benchmark
#   make clean   remove build/test outputs (make distclean also removes .venv)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
BOOK_DIR    := book
HTML_DIR    := $(BOOK_DIR)/_build/html
REPLAY      := .test-cache/replay
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv book book-release course test test-unit test-notebooks test-notebooks-portable test-browser test-course \
        test-colab bench clean distclean constraints vendor-js

help:
	@sed -n '2,8p' Makefile | sed 's/^# \{0,1\}//'

# ---------------------------------------------------------------- environment
venv: $(VENV)/.installed

# The ipykernel step registers kernelspec "python3" inside the venv, pointing at the venv's
# interpreter, so nbclient/nbval/`jupyter execute` never pick up another Python.
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/pip install -c $(CONSTRAINTS) -e '.[book,test,course]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (.venv)"
	touch $@

# Re-pin after changing dependencies in pyproject.toml (then review the diff).
constraints: venv
	{ sed -n '/^#/p' $(CONSTRAINTS); \
	  $(BIN)/pip freeze --exclude-editable \
	    | grep -viE '^lessons[-_]src([=@ ]|$$)' \
	    | sed -E 's/^torch==([0-9.]+)\+[a-z0-9]+$$/torch==\1/'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

# Re-download the JavaScript the pages load (require.js, MathJax, widget manager).
vendor-js:
	tools/vendor_js.sh

# ---------------------------------------------------------------- book
# -W: warnings are errors, -n: nitpicky cross-references, --all: re-read every page
# (an incremental build would not re-report warnings of unchanged pages).
# While repository.url in book/_config.yml is the placeholder, only a draft builds (its Colab and
# repository links would be 404s; book/_ext/repository_guard.py): `make book` builds a draft and says
# so in the log, `make book-release` refuses the placeholder.
BOOK_DRAFT ?= 1
book: venv
	BOOK_DRAFT=$(BOOK_DRAFT) $(BIN)/jupyter-book build $(BOOK_DIR) -W -n --keep-going --all

book-release: venv
	$(MAKE) book BOOK_DRAFT=0

# ---------------------------------------------------------------- course kit
# course/source/<chapter>/ (instructor edition), course/release/<chapter>/ (student edition), the
# gradebook; grade a class with `.venv/bin/python -m lessons_src.course.kit grade --chapter <name> <notebooks>`.
course: venv
	$(BIN)/python -m lessons_src.course.kit --out course build

# ---------------------------------------------------------------- tests
# The stages in order, timed, with a table of their wall times at the end (tools/test_stages.sh).
# "a+b" runs two one-core stages at the same time (the unit tests beside the Colab installs).
# About 23 min on 2 cores from a fresh clone (README). The native notebook run records each slow cell (a quick run) so
# that the course stage can replay it when grading (lessons_src/course/replay.py); the portable run
# trains everything again.
test: venv
	tools/test_stages.sh test-unit+test-colab test-notebooks test-course test-notebooks-portable \
	  book test-browser

# The developer loop (under 3 min): the unit tests, two at a time.
test-unit: venv
	$(BIN)/python -m pytest -n 2 tests/unit

# Re-executes every notebook with the venv's kernel and native CPU kernels and compares against the
# committed outputs (sanitised by tests/nbval_sanitize.cfg; images and widget ids not compared).
# Two notebooks at a time, one thread each (a second thread gains < 10 % on these models). The
# kernels record their slow cells into $(REPLAY) for test-course (kept only by this run).
test-notebooks: venv
	rm -rf $(REPLAY)
	env $$($(BIN)/python -m lessons_src.course.replay env record $(REPLAY)) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadscope $(NBVAL_FLAGS) $(BOOK_DIR)/notebooks

# The same re-execution with ATen's generic (non-SIMD) kernels: the committed outputs must not
# depend on the CPU they were made on (tools/nbval_matrix.sh runs the whole matrix: native / avx2 /
# default kernels × 1 / 2 threads). Nothing is replayed here: every quick run trains again.
test-notebooks-portable: venv
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadscope $(NBVAL_FLAGS) $(BOOK_DIR)/notebooks

# Builds the kit, grades the instructor editions (full marks), the blank student editions (zero)
# and a submission with one wrong answer (partial marks, the checker's message), checks for leaks.
# Two gradings at a time, one thread each. Where test-notebooks left recordings in $(REPLAY), the
# graded kernels replay those slow cells instead of training again (the exercises never read them).
test-course: venv
	$(if $(wildcard $(REPLAY)/cells),LESSONS_TEST_REPLAY=$(REPLAY)) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -p no:cacheprovider -n 2 tests/course

# A fresh environment with only torch, a kernel and a /content folder: the chapters' setup cells
# install the book from a file:// clone, keep torch, and the first cells run.
test-colab: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/colab

# Installs Debian's chromium first where it is missing (tools/ensure_chromium.sh); the self-test
# shows that the widget and overflow checks still catch a broken widget and overflowing cells.
test-browser: venv
	tools/ensure_chromium.sh
	$(BIN)/python tests/browser/check_book.py --html-dir $(HTML_DIR)
	$(BIN)/python tests/browser/check_book.py --html-dir $(HTML_DIR) --self-test

# ---------------------------------------------------------------- benchmarks
bench: venv
	$(BIN)/python benchmarks/bench_sasrec.py

# ---------------------------------------------------------------- cleaning
clean:
	rm -rf $(BOOK_DIR)/_build .pytest_cache course .test-cache
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -print0 \
	  | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) *.egg-info
