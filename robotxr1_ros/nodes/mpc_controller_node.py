"""Node `mpc_controller`: odometry in, Ackermann drive commands out, at the MPC's control rate.

A thin wrapper around robotxr1_ros.control.mpc.FrenetMPC. The 11 MPC parameters are ROS parameters whose
descriptors come from PARAM_TABLE (optionally narrowed by the car's `limits.<name>`), so
`ros2 param set /mpc_controller v_max 4.0` retunes the running controller and an out-of-range or
inconsistent value is refused with the reason. Updates take effect between two solves: the
parameter services, the odometry subscription and the control timer share the node's default
(mutually exclusive) callback group, so a SetParameters request is applied whole.

Without recent, finite odometry the node commands zero speed and says why (throttled); it drives
again as soon as good odometry returns.
"""
from __future__ import annotations

import json
import sys

from ackermann_msgs.msg import AckermannDriveStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String

from ..errors import Robotxr1Error
from ..control.mpc import FrenetMPC, MpcConfig
from ..params import PARAM_NAMES, PARAM_SPECS, MpcParams, ParamError
from ..track.library import get_track
from ..samples import odometry_to_sample
from .conversions import drive_message
from ..control.odometry_gate import OdometryGate
from .param_descriptors import LIMITS_PREFIX, descriptors, narrowed_specs, validated_update
from .spin import run_node

STATUS_PERIOD_S = 0.2
LOG_THROTTLE_S = 1.0


def _read_only(description: str, dynamic_typing: bool = False) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, read_only=True, dynamic_typing=dynamic_typing)


class MpcControllerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("mpc_controller", **kwargs)
        track_name = self.declare_parameter(
            "track", "eval", _read_only("built-in track name or track CSV path (racing line)")).value
        odom_topic = self.declare_parameter("odom_topic", "/odom", _read_only("nav_msgs/Odometry input")).value
        timeout_s = self.declare_parameter(
            "odom_timeout_s", 0.25, _read_only("odometry older than this stops the car [s]")).value
        rate_hz = self.declare_parameter(
            "control_rate_hz", MpcConfig().control_rate_hz, _read_only("solve and command rate [Hz]")).value

        limits = {}
        for spec in PARAM_SPECS.values():
            name = LIMITS_PREFIX + spec.name
            self.declare_parameter(name, [spec.minimum, spec.maximum],
                                   _read_only(f"car-specific [low, high] of {spec.name}", dynamic_typing=True))
            limits[spec.name] = self.get_parameter(name).value
        try:
            self._specs = narrowed_specs(limits)
        except ParamError as error:
            raise Robotxr1Error(f"mpc_controller: {error}") from None
        described = descriptors(self._specs)
        for name in PARAM_NAMES:
            self.declare_parameter(name, self._specs[name].default, described[name])
        try:
            self._params = MpcParams(**{name: self.get_parameter(name).value for name in PARAM_NAMES})
        except ParamError as error:
            raise Robotxr1Error(f"mpc_controller: initial parameters: {error}") from None
        self.add_pre_set_parameters_callback(self._integers_as_doubles)
        self.add_on_set_parameters_callback(self._check_update)
        self.add_post_set_parameters_callback(self._accept_update)

        self._track = get_track(track_name)
        self._mpc = FrenetMPC(self._track, config=MpcConfig(control_rate_hz=float(rate_hz)), params=self._params)
        self._applied = self._params
        self._gate = OdometryGate(float(timeout_s))
        self._steering = 0.0
        self._stopped_reason = "no odometry received yet"
        self._stats = {"solves": 0, "fallbacks": 0, "solve_ms_sum": 0.0, "solve_ms_max": 0.0,
                       "solve_ms_last": 0.0, "mpc_status": ""}

        self._drive = self.create_publisher(AckermannDriveStamped, "/drive", 10)
        self._status = self.create_publisher(String, "~/status", 10)
        self.create_subscription(Odometry, odom_topic, self._on_odometry, 10)
        self.create_timer(1.0 / float(rate_hz), self._control_step)
        self.create_timer(STATUS_PERIOD_S, self._publish_status)
        self.get_logger().info(
            f"track {self._track.name!r}, odometry {odom_topic}, {rate_hz} Hz, params {self._params.as_dict()}")

    # --- parameters -------------------------------------------------------------------------
    @staticmethod
    def _integers_as_doubles(parameters: list[Parameter]) -> list[Parameter]:
        """`ros2 param set /mpc_controller v_max 4` sends an integer: take it as 4.0."""
        return [Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
                if p.name in PARAM_SPECS and p.type_ == Parameter.Type.INTEGER else p
                for p in parameters]

    def _check_update(self, parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in PARAM_SPECS}
        try:
            validated_update(self._params, self._specs, changes)
        except ParamError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _accept_update(self, parameters: list[Parameter]) -> None:
        changes = {p.name: p.value for p in parameters if p.name in PARAM_SPECS}
        if changes:
            self._params = self._params.updated(changes)
            self.get_logger().info(f"MPC parameters updated: {changes}")

    # --- control ----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_odometry(self, message: Odometry) -> None:
        self._gate.receive(odometry_to_sample(message), self._now())

    def _control_step(self) -> None:
        verdict = self._gate.verdict(self._now())
        if verdict.sample is None:
            if not self._stopped_reason:
                self._mpc.reset()  # its warm start no longer matches the car
            self._stopped_reason = verdict.problem
            self._steering = 0.0
            self._publish_drive(0.0, 0.0)
            self.get_logger().warning(f"zero speed: {verdict.problem}", throttle_duration_sec=LOG_THROTTLE_S)
            return
        if self._stopped_reason:
            self.get_logger().info(f"driving: odometry is good (stopped until now: {self._stopped_reason})")
            self._stopped_reason = ""
        if self._applied is not self._params:
            self._mpc.set_params(self._params)
            self._applied = self._params
        sample = verdict.sample
        command = self._mpc.solve(sample.x, sample.y, sample.yaw, sample.vx, self._steering)
        self._steering = command.steering_angle
        self._publish_drive(command.speed, command.steering_angle)
        solve_ms = 1e3 * command.solve_time_s
        stats = self._stats
        stats["solves"] += 1
        stats["fallbacks"] += int(bool(command.fallback))
        stats["solve_ms_sum"] += solve_ms
        stats["solve_ms_max"] = max(stats["solve_ms_max"], solve_ms)
        stats["solve_ms_last"] = solve_ms
        stats["mpc_status"] = str(command.status) if not command.fallback else f"fallback: {command.reason}"

    def _publish_drive(self, speed: float, steering: float) -> None:
        self._drive.publish(drive_message(self._now(), steering, speed))

    def status(self) -> dict:
        """What the status topic carries: solve times (ms), fallbacks, the stop reason, parameters."""
        stats = self._stats
        solves = stats["solves"]
        return {
            "solves": solves,
            "fallback_count": stats["fallbacks"],
            "solve_ms_last": round(stats["solve_ms_last"], 3),
            "solve_ms_mean": round(stats["solve_ms_sum"] / solves, 3) if solves else None,
            "solve_ms_max": round(stats["solve_ms_max"], 3),
            "mpc_status": stats["mpc_status"],
            "stale": bool(self._stopped_reason),
            "stop_reason": self._stopped_reason,
            "params": self._applied.as_dict(),
        }

    def _publish_status(self) -> None:
        self._status.publish(String(data=json.dumps(self.status())))


def main(args: list[str] | None = None) -> int:
    return run_node(MpcControllerNode, args)


if __name__ == "__main__":
    sys.exit(main())
