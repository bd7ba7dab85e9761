# `make demo` and `make test` work on a fresh machine: they create .venv and install mlc into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: setup demo test test-fast docs clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,tvm]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/mlc show models/digits_cnn.onnx --stats
	$(VENV)/bin/mlc compile models/digits_cnn.onnx -t llvm -o build/digits_cnn
	$(VENV)/bin/mlc run build/digits_cnn
	$(VENV)/bin/mlc compare models/digits_cnn.onnx --targets ref,llvm

test: setup
	$(PY) -m pytest -q -n $(JOBS)

test-fast: setup
	$(PY) -m pytest -q -n $(JOBS) -m "not slow"

docs: setup
	$(PY) -m mlc.docs_ops > docs/ops.md

clean:
	rm -rf $(VENV) build *.egg-info
