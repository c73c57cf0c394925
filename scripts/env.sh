# Environment for running robotxr1 against the venv's ROS 2 wheels and the interface packages built
# by scripts/build_ros_interfaces.sh. Source it (POSIX sh or bash); it does not change the shell's
# options and can be sourced repeatedly.
#
#   . scripts/env.sh                                   # from the repository root (any shell)
#   ROBOTXR1_ROOT=/path/to/repo . /path/to/repo/scripts/env.sh
#
# Optional inputs: ROBOTXR1_ROOT (repository root), ROBOTXR1_VENV_DIR (default ROOT/.venv),
# ROBOTXR1_BUILD_DIR (the build script's BUILD_DIR, default ROOT/build as in the Makefile),
# ROS_DOMAIN_ID (kept if already set).
#
# The venv's own ROS libraries need no LD_LIBRARY_PATH entry here: the wheels install
# ros_wheels_bootstrapper.pth, which re-executes every venv Python once with the venv's lib/ and
# site-packages/ros_*.libs/ on LD_LIBRARY_PATH (keeping entries already there, such as ours).

if [ -z "${ROBOTXR1_ROOT:-}" ]; then
    if [ -n "${BASH_SOURCE:-}" ]; then
        ROBOTXR1_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    else
        ROBOTXR1_ROOT=$(pwd)
    fi
fi

if [ ! -f "$ROBOTXR1_ROOT/scripts/env.sh" ]; then
    echo "env.sh: error: '$ROBOTXR1_ROOT' is not the robotxr1 repository root; set ROBOTXR1_ROOT" >&2
    return 1 2>/dev/null || exit 1
fi

_robotxr1_venv=${ROBOTXR1_VENV_DIR:-$ROBOTXR1_ROOT/.venv}
_robotxr1_install=${ROBOTXR1_BUILD_DIR:-$ROBOTXR1_ROOT/build}/install

# Prepend a directory to a colon-separated variable unless it is already in it, then export it.
_robotxr1_prepend() {
    eval "_robotxr1_current=\${$1:-}"
    case ":$_robotxr1_current:" in
        *":$2:"*) ;;
        *) eval "$1=\"\$2\${_robotxr1_current:+:\$_robotxr1_current}\"" ;;
    esac
    export "$1"
}

_robotxr1_prepend PATH "$_robotxr1_venv/bin"
_robotxr1_prepend AMENT_PREFIX_PATH "$_robotxr1_venv"
_robotxr1_prepend AMENT_PREFIX_PATH "$_robotxr1_install"
_robotxr1_prepend LD_LIBRARY_PATH "$_robotxr1_install/lib"
for _robotxr1_site in "$_robotxr1_install"/lib/python3*/site-packages; do
    if [ -d "$_robotxr1_site" ]; then
        _robotxr1_prepend PYTHONPATH "$_robotxr1_site"
    else
        echo "env.sh: note: ackermann_msgs/tf2_msgs not built in $_robotxr1_install;" \
            "run scripts/build_ros_interfaces.sh" >&2
    fi
done

# DDS stays on this machine; tests give each process its own domain on top of this default.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# Participants announce themselves every 0.25 s instead of 3 s, so a newcomer (a `ros2` command, a
# probe) finds the nodes at once without multicast (config/fastdds_localhost.xml says more).
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$ROBOTXR1_ROOT/config/fastdds_localhost.xml}"
# One BLAS/OpenMP thread per process: on 2 cores, threaded BLAS makes small solves slower.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

unset _robotxr1_venv _robotxr1_install _robotxr1_site _robotxr1_current
unset -f _robotxr1_prepend
