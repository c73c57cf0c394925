"""Node `mpc_controller`: odometry in, Ackermann drive commands out, at the MPC's control rate.

A thin wrapper around robotxr1_ros.control.controller.SafeController (odometry gate -> FrenetMPC
-> safety filter): every command on /drive lies inside the limits of the parameters in force and
of the vehicle, whatever the odometry or the MPC say. The 11 MPC parameters are ROS parameters
whose descriptors carry the controller's effective ranges (PARAM_TABLE, narrowed by the car's
`limits.<name>` and by `brake_floor` for a_min), so `ros2 param set /mpc_controller v_max 4.0`
retunes the running controller and an out-of-range or inconsistent value is refused with the
reason. A request setting several parameters atomically is checked as the combined set; the
parameter services keep every request queued, so a burst of requests is answered in full. Updates
take effect between two control steps: the parameter services, the odometry subscription and the
timers share the node's default (mutually exclusive) callback group.

Without recent, plausible odometry the node commands zero speed and says why (status topic and a
throttled log); it drives again as soon as good odometry returns. Odometry age is judged on the
node's clock and on the steady clock (each message's arrival time on both), and a watchdog timer on
the steady clock commands zero speed at the control rate whenever the control steps, which run on
the node's clock, fall silent: a paused, slow or jumping simulated clock cannot hold the car's last
command. `use_sim_time` (declared by rclpy) is read-only like the other safety settings: which clock
odometry age is judged on is fixed at start (`-p use_sim_time:=true` or the launch parameters).
Its last command, as it shuts down (SIGINT, SIGTERM, its launcher's death), is zero speed.

`~/stop` (std_srvs/Trigger) stops the car without words: zero speed at once, through the safety
filter, and at every step until `~/resume` (Trigger); no instruction and no parameter update
drives it before (parameters set meanwhile are in force once resumed). The status says why.

Topic names are relative, so a namespace (`namespace:=car1`) gives each car its own drive/odom.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import NoReturn

from ackermann_msgs.msg import AckermannDriveStamped
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.time_source import USE_SIM_TIME_NAME as USE_SIM_TIME
from std_msgs.msg import String
from std_srvs.srv import Trigger

from ..control.controller import Command, SafeController, SafetyConfig
from ..control.mpc import FrenetMPC, MpcConfig
from ..control.param_limits import ParamLimits
from ..control.safety_filter import Correction
from ..errors import Robotxr1Error
from ..params import PARAM_NAMES, PARAM_SPECS, ParamError
from ..samples import odometry_to_sample
from ..track.library import get_track
from .conversions import drive_message
from .param_descriptors import LIMITS_PREFIX, descriptors
from .parameter_services import start_parameter_services
from .priority import put_control_first, raise_thread_priority
from .spin import node_main
from .undeclared_parameters import NamesUndeclaredParameters
from .visualization import plan_path

STATUS_PERIOD_S = 0.2
LOG_THROTTLE_S = 1.0
# How long the last (zero-speed) command may take to be acknowledged by the drive's subscribers.
STOP_ACK_TIMEOUT_S = 0.5
RATE_LIMITS = (Correction.ACCELERATION, Correction.STEERING_RATE)
SAFETY_PARAMETERS = {  # SafetyConfig field -> what the read-only parameter means
    "odom_timeout_s": "odometry older than this (node clock or steady clock) stops the car [s]",
    "clock_timeout_s": "the node's clock this far behind the steady clock since the last control step (a silent, "
                       "slow or backward-jumping /clock) stops the car [s]",
    "max_off_track_m": "odometry farther than this outside the track is rejected [m]",
    "jump_tolerance_m": "odometry jumping farther than top speed x time + this is rejected [m]",
    "brake_floor": "a_min may not be set above this, so the car can always brake [m/s^2]",
}


@dataclass
class SolveStats:
    """The MPC's solves so far, for the status topic (times in ms)."""

    solves: int = 0
    fallbacks: int = 0
    solve_ms_sum: float = 0.0
    solve_ms_max: float = 0.0
    solve_ms_last: float = 0.0
    mpc_status: str = ""


def _read_only(description: str, dynamic_typing: bool = False) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, read_only=True, dynamic_typing=dynamic_typing)


class MpcControllerNode(NamesUndeclaredParameters, Node):
    def __init__(self, **kwargs) -> None:
        serve_parameters = kwargs.pop("start_parameter_services", True)
        super().__init__("mpc_controller", start_parameter_services=False, **kwargs)
        self.set_descriptor(USE_SIM_TIME, ParameterDescriptor(
            type=ParameterType.PARAMETER_BOOL, read_only=True,
            description="run the controller on /clock; read-only: the clock odometry age is judged on is fixed "
                        "at start (-p use_sim_time:=true or the launch parameters)"))
        track_name: str = self.declare_parameter(
            "track", "eval", _read_only("built-in track name or track CSV path (racing line)")).value
        odom_topic: str = self.declare_parameter(
            "odom_topic", "odom", _read_only("nav_msgs/Odometry input (relative to the namespace)")).value
        rate_hz = float(self.declare_parameter(
            "control_rate_hz", MpcConfig().control_rate_hz, _read_only("solve and command rate [Hz]")).value)
        defaults = SafetyConfig()
        safety = SafetyConfig(**{name: float(self.declare_parameter(name, getattr(defaults, name),
                                                                   _read_only(meaning)).value)
                                 for name, meaning in SAFETY_PARAMETERS.items()})
        limits = {}
        for spec in PARAM_SPECS.values():
            name = LIMITS_PREFIX + spec.name
            self.declare_parameter(name, [spec.minimum, spec.maximum],
                                   _read_only(f"car-specific [low, high] of {spec.name}", dynamic_typing=True))
            limits[spec.name] = self.get_parameter(name).value
        try:
            param_limits = ParamLimits.create(limits, safety.brake_floor)
        except ParamError as error:
            raise Robotxr1Error(f"mpc_controller: {error}") from None
        notes = {"a_min": f"a_min <= brake_floor = {safety.brake_floor:g}: the car must always be able to brake"}
        described = descriptors(param_limits.specs, notes)
        for name in PARAM_NAMES:
            self.declare_parameter(name, param_limits.specs[name].default, described[name])
        try:
            params = param_limits.initial({name: self.get_parameter(name).value for name in PARAM_NAMES})
        except ParamError as error:
            raise Robotxr1Error(f"mpc_controller: initial parameters: {error}") from None

        self._track = get_track(track_name)
        period_s = 1.0 / rate_hz
        mpc = FrenetMPC(self._track, config=MpcConfig(control_rate_hz=rate_hz), params=params)
        self._controller = SafeController(mpc, period_s, self._track, safety, param_limits, params)
        self.add_pre_set_parameters_callback(self._integers_as_doubles)
        self.add_on_set_parameters_callback(self._check_update)
        self.add_post_set_parameters_callback(self._accept_update)
        self._stopped_for = self._controller.stop_reason  # for the log line when driving resumes
        self._stats = SolveStats()

        self._drive = self.create_publisher(AckermannDriveStamped, "drive", 10)
        self._status = self.create_publisher(String, "~/status", 10)
        self._plan = self.create_publisher(Path, "~/plan", 10)  # the predicted horizon, for RViz
        self.create_subscription(Odometry, odom_topic, self._on_odometry, 10)
        self.create_timer(period_s, self._control_step)
        steady = Clock(clock_type=ClockType.STEADY_TIME)  # runs on while a simulated clock stands still
        self.create_timer(period_s, self._watchdog, clock=steady)
        self.create_timer(STATUS_PERIOD_S, self._publish_status, clock=steady)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_service(Trigger, "~/resume", self._on_resume)
        if serve_parameters:  # with a queue that answers every request
            self._parameter_services = start_parameter_services(self)
        self.get_logger().info(
            f"track {self._track.name!r}, odometry {odom_topic}, {rate_hz} Hz, safety {safety}, "
            f"params {params.as_dict()}")

    # --- parameters -------------------------------------------------------------------------
    @staticmethod
    def _integers_as_doubles(parameters: list[Parameter]) -> list[Parameter]:
        """`ros2 param set /mpc_controller v_max 4` sends an integer: take it as 4.0."""
        return [Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
                if p.name in PARAM_SPECS and p.type_ == Parameter.Type.INTEGER else p
                for p in parameters]

    @staticmethod
    def _mpc_changes(parameters: list[Parameter]) -> dict:
        """The MPC parameters of one request (a later entry for the same name wins, as in rclpy)."""
        return {p.name: p.value for p in parameters if p.name in PARAM_SPECS}

    def _check_update(self, parameters: list[Parameter]) -> SetParametersResult:
        """The whole request (all parameters of a set_parameters_atomically call) against the set
        in force: every value in its range and the combined set through the cross rules."""
        try:
            self._controller.check_params(self._mpc_changes(parameters))
        except ParamError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _accept_update(self, parameters: list[Parameter]) -> None:
        changes = self._mpc_changes(parameters)
        if changes:
            self._controller.update_params(changes)
            self.get_logger().info(f"MPC parameters updated: {changes}")

    # --- an operator's stop -----------------------------------------------------------------
    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        name = self.get_fully_qualified_name()
        was_held = self._controller.held
        self._send(self._controller.hold(self._now(), f"stopped by {name}/stop: zero speed until {name}/resume"))
        response.success = True
        response.message = ("already stopped" if was_held else "stopped") + f": zero speed until {name}/resume"
        self.get_logger().warning(response.message)
        return response

    def _on_resume(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success = self._controller.resume()
        response.message = ("resumed: driving again with the parameters in force once odometry is good"
                            if response.success else "not stopped by ~/stop: nothing to resume")
        self.get_logger().info(response.message)
        return response

    # --- control ----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_odometry(self, message: Odometry) -> None:
        self._controller.on_odometry(odometry_to_sample(message), self._now(), time.monotonic())

    def _control_step(self) -> None:
        command = self._controller.command(self._now(), time.monotonic())
        self._send(command)
        result = command.mpc
        if result is None:
            return
        if result.predicted_s is not None and result.predicted_n is not None and self._plan.get_subscription_count():
            self._plan.publish(plan_path(self._track, command.t, result.predicted_s, result.predicted_n))
        solve_ms = 1e3 * result.solve_time_s
        stats = self._stats
        stats.solves += 1
        stats.fallbacks += int(bool(result.fallback))
        stats.solve_ms_sum += solve_ms
        stats.solve_ms_max = max(stats.solve_ms_max, solve_ms)
        stats.solve_ms_last = solve_ms
        stats.mpc_status = str(result.status) if not result.fallback else f"fallback: {result.reason}"

    def _watchdog(self) -> None:
        command = self._controller.watchdog(self._now(), time.monotonic())
        if command is not None:
            self._send(command)

    def _send(self, command: Command) -> None:
        if command.fault:
            self.get_logger().warning(f"zero speed: {command.stop_reason}", throttle_duration_sec=LOG_THROTTLE_S)
        elif self._stopped_for:
            self.get_logger().info(f"driving: odometry is good (stopped until now: {self._stopped_for})")
        beyond_limits = [reason for reason in command.corrections if reason not in RATE_LIMITS]
        if beyond_limits:  # rate limiting is routine (counted in the status); a command outside the limits is not
            self.get_logger().warning(f"safety filter corrected the command: {', '.join(beyond_limits)}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
        self._stopped_for = command.stop_reason
        self._drive.publish(drive_message(command.t, command.steering, command.speed))

    def destroy_node(self) -> None:
        """Command zero speed before going: the car's motor controller (and the simulator) hold the
        last command they received. The reliable publisher is given a moment for the subscribers to
        acknowledge it, so it is not lost with the node's writer."""
        if self.context.ok():  # not when destroyed after rclpy's shutdown: nothing can be sent then
            command = self._controller.stop_command(self._now(), "the controller is shutting down")
            self._drive.publish(drive_message(command.t, command.steering, command.speed))
            acknowledged = self._drive.wait_for_all_acked(Duration(seconds=STOP_ACK_TIMEOUT_S))
            self.get_logger().info("shutting down: commanded zero speed" + (
                "" if acknowledged else f" (not acknowledged by every subscriber within {STOP_ACK_TIMEOUT_S} s)"))
        super().destroy_node()

    def status(self) -> dict:
        """What the status topic carries: solve times (ms), fallbacks, the stop reason and fault
        counts, the safety filter's corrections, the parameters in force."""
        stats = self._stats
        solves = stats.solves
        return {
            "solves": solves,
            "fallback_count": stats.fallbacks,
            "solve_ms_last": round(stats.solve_ms_last, 3),
            "solve_ms_mean": round(stats.solve_ms_sum / solves, 3) if solves else None,
            "solve_ms_max": round(stats.solve_ms_max, 3),
            "mpc_status": stats.mpc_status,
            **self._controller.status(),
        }

    def _publish_status(self) -> None:
        self._status.publish(String(data=json.dumps(self.status())))


def main(args: list[str] | None = None) -> NoReturn:
    # Control first: pinned and at a raised nice value before rclpy starts, so DDS's threads share
    # both; the spinning thread (timers, callbacks) at SCHED_FIFO above them, where permitted. The
    # LLM node's inference runs niced in its own process, on the other CPUs.
    node_main(MpcControllerNode, args, before_init=put_control_first, before_spin=raise_thread_priority)


if __name__ == "__main__":
    main()
