"""Which nodes a bringup starts, with which parameter files, overrides and remappings.

The one description that both the ROS 2 launch files (launch/*.launch.py) and `robotxr1 run`
read, so the two cannot drift apart. ROS-free: values may be plain strings (the runner) or launch
substitutions (the launch files), this module only places them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "robotxr1"
CONFIG_NAME = "robotxr1.yaml"

# console_scripts name -> the node class it runs ("module:Class"); setup.py's entry points point at
# the same modules' main(), and the runner instantiates these classes in one process.
EXECUTABLES = {
    "mpc_controller": "robotxr1_ros.nodes.mpc_controller_node:MpcControllerNode",
    "sim": "robotxr1_ros.nodes.sim_node:SimNode",
    "robotxr1_llm": "robotxr1_ros.nodes.llm_node:LlmNode",  # `robotxr1` itself is the CLI
}


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str


@dataclass(frozen=True)
class NodeLaunch:
    """One node of a bringup, in launch_ros.actions.Node's terms."""

    executable: str
    name: str
    parameter_files: tuple[Any, ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    namespace: Any = ""  # "" (the root) or e.g. "car1"; every topic and service name is relative to it
    # How long launch waits after SIGINT before it escalates to SIGTERM (launch's default: 5 s).
    stop_timeout_s: float | None = None
    package: str = PACKAGE


def config_section(node_name: str) -> str:
    """The key of a node's section in the parameter YAML: the node in any namespace."""
    return f"/**/{node_name}"


def default_config_file() -> str:
    """config/robotxr1.yaml from the installed package share, else from the source tree."""
    source_tree = Path(__file__).resolve().parents[2] / "config" / CONFIG_NAME
    if source_tree.is_file():
        return str(source_tree)
    from ament_index_python.packages import get_package_share_directory

    return str(Path(get_package_share_directory(PACKAGE)) / "config" / CONFIG_NAME)


NAMESPACE_ARGUMENT = LaunchArgument(
    "namespace", "", "namespace of every node (e.g. car1): one car's topics, services and clock")
LLM_ARGUMENTS = (
    LaunchArgument("model_path", "", "GGUF model for the LLM node (empty: the node's default model)"),
    LaunchArgument("lora_path", "default", "GGUF LoRA adapter for the LLM node ('default': the trained adapter "
                   "shipped for the bundled model; empty: the base model alone)"),
    LaunchArgument("instruction", "", "initial instruction for the LLM node (empty: wait for the "
                   "robotxr1/instruction topic)"),
    LaunchArgument("chat_template", "", "chat template instead of the model's own (a GGUF without one needs it): "
                   "chatml or a Jinja file; empty: the model's own"),
    LaunchArgument("thinking", "none", "a reasoning model's (<think>) thinking before its answers: none (an empty "
                   "thinking block) or 'budget N' (at most N tokens)"),
)
TRACK_ARGUMENT = LaunchArgument(
    "track", "eval", "built-in track name or track-layout CSV file (x_m, y_m, w_tr_right_m, "
    "w_tr_left_m), for every node of the bringup")

# On the car the IMU driver publishes here (relative to the namespace); the LLM node's default is imu.
CAR_IMU_TOPIC = "sensors/imu/raw"
# The car's topics, set on the nodes that use them: the topic parameters of the controller and the
# LLM node (so `ros2 param get` tells the topic in force), and a remapping of the controller's
# `drive`, a fixed name. Relative names are in the namespace.
TOPIC_ARGUMENTS = (
    LaunchArgument("odom_topic", "odom", "nav_msgs/Odometry of the car, for the controller and the LLM node"),
    LaunchArgument("scan_topic", "scan", "sensor_msgs/LaserScan of the car's LiDAR, for the LLM node"),
    LaunchArgument("imu_topic", CAR_IMU_TOPIC, "sensor_msgs/Imu of the car, for the LLM node (optional input)"),
    LaunchArgument("drive_topic", "drive", "ackermann_msgs/AckermannDriveStamped commands of the controller"),
)
# rclpy's time source subscribes to /clock; nodes on simulated time take their own sim's clock
# instead, in the namespace ("clock" is /clock without one).
SIM_CLOCK_REMAP = ("/clock", "clock")
# The LLM node stops after its worker's model call in progress, which llama.cpp ends at its next
# stop check but a backend that cannot stop (an HTTP endpoint) finishes: launch gives it this long
# (a 200-token answer on a loaded 2-core machine) before escalating.
LLM_STOP_TIMEOUT_S = 30.0


def _llm_overrides(args: Mapping[str, Any]) -> dict[str, Any]:
    return {name: args[name] for name in ("model_path", "lora_path", "instruction", "chat_template", "thinking")}


def drive_nodes(config: Any, args: Mapping[str, Any]) -> list[NodeLaunch]:
    """On the car: the LLM node and the MPC controller, on one track; odometry, LiDAR and IMU come
    from the car's drivers on the topics given, commands go to its drive topic."""
    namespace = args["namespace"]
    track = {"track": args["track"]}
    inputs = {name: args[name] for name in ("odom_topic", "scan_topic", "imu_topic")}
    return [
        NodeLaunch("mpc_controller", "mpc_controller", (config,), {**track, "odom_topic": args["odom_topic"]},
                   (("drive", args["drive_topic"]),), namespace=namespace),
        NodeLaunch("robotxr1_llm", "robotxr1", (config,), {**_llm_overrides(args), **track, **inputs},
                   namespace=namespace, stop_timeout_s=LLM_STOP_TIMEOUT_S),
    ]


def sim_nodes(config: Any, args: Mapping[str, Any]) -> list[NodeLaunch]:
    """In simulation: the simulator (publishing /clock), the MPC controller and the LLM node."""
    sim_time = {"use_sim_time": True}
    namespace = args["namespace"]
    return [
        NodeLaunch("sim", "sim", (config,), {"track": args["track"]}, namespace=namespace),
        NodeLaunch("mpc_controller", "mpc_controller", (config,), {"track": args["track"], **sim_time},
                   (SIM_CLOCK_REMAP,), namespace=namespace),
        # Not on sim time: the LLM node times windows by its inputs' stamps and decisions by the wall
        # clock, never by its ROS clock, and /clock at the physics rate (200 Hz) cost it ~10 % of a core.
        NodeLaunch("robotxr1_llm", "robotxr1", (config,), {**_llm_overrides(args), "track": args["track"]},
                   namespace=namespace, stop_timeout_s=LLM_STOP_TIMEOUT_S),
    ]


@dataclass(frozen=True)
class Bringup:
    nodes: Callable[[Any, Mapping[str, Any]], list[NodeLaunch]]
    extra_arguments: tuple[LaunchArgument, ...]

    def arguments(self) -> tuple[LaunchArgument, ...]:
        """Launch arguments with their defaults; `config` defaults to the package's YAML."""
        config = LaunchArgument("config", default_config_file(), "ROS parameter YAML for all nodes")
        return (config, NAMESPACE_ARGUMENT, *self.extra_arguments)


BRINGUPS = {
    "drive": Bringup(drive_nodes, (*LLM_ARGUMENTS, TRACK_ARGUMENT, *TOPIC_ARGUMENTS)),
    "sim": Bringup(sim_nodes, (*LLM_ARGUMENTS, TRACK_ARGUMENT)),
}
