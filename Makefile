# Deep Recommender Systems — build, test and benchmark entry points.
#   make venv    create .venv (pinned by requirements/constraints.txt)
#   make book    build the HTML book (notebooks are NOT executed; outputs are committed)
#   make test    unit tests, notebook re-execution (nbval), book build, browser check
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
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv book course test test-unit test-notebooks test-notebooks-portable test-browser test-course \
        test-colab bench clean distclean constraints vendor-js

help:
	@sed -n '2,7p' Makefile | sed 's/^# \{0,1\}//'

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
book: venv
	$(BIN)/jupyter-book build $(BOOK_DIR) -W -n --keep-going --all

# ---------------------------------------------------------------- course kit
# course/source/<chapter>/ (instructor edition), course/release/<chapter>/ (student edition), the
# gradebook; grade a class with `.venv/bin/python -m lessons_src.course.kit grade --chapter <name> <notebooks>`.
course: venv
	$(BIN)/python -m lessons_src.course.kit --out course build

# ---------------------------------------------------------------- tests
test: venv
	$(MAKE) test-unit
	$(MAKE) test-notebooks
	$(MAKE) test-notebooks-portable
	$(MAKE) test-course
	$(MAKE) test-colab
	$(MAKE) book
	$(MAKE) test-browser

test-unit: venv
	$(BIN)/python -m pytest tests/unit

# Re-executes every notebook with the venv's kernel and compares against the committed
# outputs (sanitised by tests/nbval_sanitize.cfg; images and widget ids not compared).
test-notebooks: venv
	$(BIN)/python -m pytest -p no:cacheprovider $(NBVAL_FLAGS) $(BOOK_DIR)/notebooks

# The same re-execution with ATen's generic (non-SIMD) kernels and one thread: the committed outputs
# must not depend on the CPU they were made on (tools/nbval_matrix.sh runs the whole matrix:
# native / avx2 / default kernels × 1 / 2 threads). One thread per kernel leaves cores free, so two
# notebooks run at a time (xdist; --dist loadscope keeps each notebook's cells in order in one worker).
test-notebooks-portable: venv
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadscope $(NBVAL_FLAGS) $(BOOK_DIR)/notebooks

# Builds the kit, grades the instructor editions (full marks), the blank student editions (zero)
# and a submission with one wrong answer (partial marks, the checker's message), checks for leaks.
# Two gradings at a time, one thread each (1.6x the throughput of one at a time with two threads here).
test-course: venv
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -p no:cacheprovider -n 2 tests/course

# A fresh environment with only torch, a kernel and a /content folder: the chapters' setup cells
# install the book from a file:// clone, keep torch, and the first cells run.
test-colab: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/colab

test-browser: venv
	$(BIN)/python tests/browser/check_book.py --html-dir $(HTML_DIR)

# ---------------------------------------------------------------- benchmarks
bench: venv
	$(BIN)/python benchmarks/bench_sasrec.py

# ---------------------------------------------------------------- cleaning
clean:
	rm -rf $(BOOK_DIR)/_build .pytest_cache course
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -print0 \
	  | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) *.egg-info
