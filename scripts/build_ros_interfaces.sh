#!/usr/bin/env bash
# Build the ROS 2 interface packages in ros_interfaces/ (ackermann_msgs, tf2_msgs) with colcon,
# using the ROS 2 Kilted wheels installed in a venv, plus any EXTRA_PACKAGE_DIR given (interface
# packages from elsewhere: composition_interfaces, which launch_ros imports, from ../shared/ros2-src).
# Installs into BUILD_DIR/install only: this is for the venv-based setup; on a car the
# distribution's packages are used instead.
#
# Usage: scripts/build_ros_interfaces.sh VENV_DIR BUILD_DIR [EXTRA_PACKAGE_DIR...]
# Safe to re-run: pip, the path rewrite and colcon all skip work that is already done.
set -euo pipefail

die() {
    echo "build_ros_interfaces: error: $*" >&2
    exit 1
}

[ "$#" -ge 2 ] || die "usage: $0 VENV_DIR BUILD_DIR [EXTRA_PACKAGE_DIR...]"
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV_DIR=$(cd "$1" 2>/dev/null && pwd) || die "venv directory '$1' does not exist"
mkdir -p "$2" || die "cannot create build directory '$2'"
BUILD_DIR=$(cd "$2" && pwd)
PYTHON="$VENV_DIR/bin/python"
[ -x "$PYTHON" ] || die "'$PYTHON' is not an executable Python (VENV_DIR must be a venv)"
shift 2
PACKAGE_DIRS=("$REPO_ROOT/ros_interfaces/ackermann_msgs" "$REPO_ROOT/ros_interfaces/tf2_msgs")
EXTRA_PACKAGES=()
for extra in "$@"; do
    [ -f "$extra/package.xml" ] || die "'$extra' is not a ROS package (no package.xml)"
    PACKAGE_DIRS+=("$(cd "$extra" && pwd)")
    EXTRA_PACKAGES+=("$(basename "$extra")")
done

# Any command that fails below names itself before the script exits.
trap 'die "step failed (exit $?): $BASH_COMMAND"' ERR

echo "build_ros_interfaces: installing build tools (requirements/ros-build.txt) into $VENV_DIR"
"$PYTHON" -m pip install --quiet -r "$REPO_ROOT/requirements/ros-build.txt"

# The wheels' exported CMake targets (share/*/cmake/*.cmake) name the include directories of the
# machine they were built on. Point them at this venv's Python and NumPy headers, inside the venv.
echo "build_ros_interfaces: pointing the wheels' CMake include paths at this venv"
"$PYTHON" - "$VENV_DIR" <<'PY'
import pathlib
import sys
import sysconfig

import numpy

venv = pathlib.Path(sys.argv[1])
python_include = sysconfig.get_paths()["include"]
if not (pathlib.Path(python_include) / "Python.h").is_file():
    sys.exit(f"build_ros_interfaces: error: no Python.h in {python_include}: install the Python headers")
# Built-on-machine path -> this venv's path. The NumPy entry comes first: it starts with the prefix
# of the Python entry's directory but not with the Python entry itself.
replacements = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
    "/opt/python/cp311-cp311/include/python3.11": python_include,
}
rewritten = 0
for cmake_file in venv.glob("share/*/cmake/*.cmake"):
    text = cmake_file.read_text()
    if "/opt/python/" not in text:
        continue
    for old, new in replacements.items():
        text = text.replace(old, new)
    if "/opt/python/" in text:
        sys.exit(f"build_ros_interfaces: error: unknown build-machine path left in {cmake_file}")
    cmake_file.write_text(text)
    rewritten += 1
print(f"build_ros_interfaces: rewrote {rewritten} CMake file(s)")
PY

# Only the venv's ROS packages: never a system or user workspace that happens to be sourced.
export AMENT_PREFIX_PATH="$VENV_DIR"
export CMAKE_PREFIX_PATH="$VENV_DIR"
export PATH="$VENV_DIR/bin:$PATH"

echo "build_ros_interfaces: colcon build -> $BUILD_DIR/install"
if ! colcon --log-base "$BUILD_DIR/log" build \
    --paths "${PACKAGE_DIRS[@]}" \
    --build-base "$BUILD_DIR/build" \
    --install-base "$BUILD_DIR/install" \
    --merge-install \
    --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PYTHON" "-DPython3_FIND_VIRTUALENV=ONLY"
then
    trap - ERR
    for log in "$BUILD_DIR"/log/latest_build/*/stdout_stderr.log; do
        [ -f "$log" ] && { echo "=== last lines of $log"; tail -n 40 "$log"; } >&2
    done
    die "colcon build failed; full logs in $BUILD_DIR/log/latest_build"
fi

# Load the generated messages and their C type support the way rclpy will, so a broken install
# fails here rather than in the first node that uses it.
echo "build_ros_interfaces: checking the generated messages load"
# shellcheck source=env.sh
ROBOTXR1_BUILD_DIR="$BUILD_DIR" ROBOTXR1_VENV_DIR="$VENV_DIR" . "$REPO_ROOT/scripts/env.sh"
"$PYTHON" -c '
from ackermann_msgs.msg import AckermannDrive, AckermannDriveStamped
from tf2_msgs.msg import TFMessage
for message in (AckermannDrive, AckermannDriveStamped, TFMessage):
    type(message).__import_type_support__()
'
for package in ${EXTRA_PACKAGES[@]+"${EXTRA_PACKAGES[@]}"}; do
    "$PYTHON" -c "import importlib, sys; importlib.import_module(sys.argv[1])" "$package"
done
echo "build_ros_interfaces: done ($BUILD_DIR/install)"
