# `make demo` and `make test` work on a fresh machine: they create .venv and install mlc into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2
# The C backend's microcontroller targets: cross compiler, newlib, QEMU, CMake (Debian packages).
MCU_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup toolchains demo lint test test-fast docs clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,tvm]'
	touch $(STAMP)

setup: $(STAMP)

toolchains:
	@if ! dpkg -s $(MCU_PACKAGES) >/dev/null 2>&1; then \
		echo "installing $(MCU_PACKAGES)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(MCU_PACKAGES) >/dev/null; \
	fi

demo: setup
	$(VENV)/bin/mlc show models/digits_cnn.onnx --stats
	$(VENV)/bin/mlc compile models/digits_cnn.onnx -t llvm -o build/digits_cnn
	$(VENV)/bin/mlc run build/digits_cnn
	$(VENV)/bin/mlc compare models/digits_cnn.onnx --targets ref,llvm,c

# Layers only point down: pyproject.toml's import-linter contracts (see tests/layers.py).
lint: setup
	$(PY) tests/layers.py

test: setup toolchains lint
	$(PY) -m pytest -q -n $(JOBS) --dist loadgroup

test-fast: setup toolchains lint
	$(PY) -m pytest -q -n $(JOBS) --dist loadgroup -m "not slow"

docs: setup
	$(PY) -m mlc.docs_ops > docs/ops.md

clean:
	rm -rf $(VENV) build *.egg-info
