# robotxr1: `make demo` and `make test` set everything up (venv, ROS 2 wheels, interface packages)
# and run. Setup steps are stamped, so repeated calls only redo what changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BUILD := build
PY_STAMP := $(VENV)/.stamp-python
ROS_STAMP := $(BUILD)/.stamp-interfaces
IN_ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

setup: $(PY_STAMP) $(ROS_STAMP)

$(PY_STAMP): requirements/base.txt requirements/ros.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip wheel setuptools
	$(VENV)/bin/pip install --progress-bar off -r requirements/base.txt -r requirements/ros.txt
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
