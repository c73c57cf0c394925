"""Node `sim`: the F1TENTH simulator on ROS, in the topics of a real car.

Publishes odom (+ odom->base_link on tf), scan, imu at their sensor rates, the static
map->odom->(laser, imu) frames on tf_static, the track (centre line, walls, racing line) on
track_markers (both transient local) and, with `publish_clock`, clock: then the simulation sets the
ROS time of nodes with use_sim_time and can run faster than real time (`real_time_factor`).
Subscribes drive (the latest command is held, as by the car's motor controller). Reset: the
`~/reset` service (std_srvs/Trigger, back to the start pose) or a pose on initialpose.

Every name is relative, so a namespace (`ros2 launch ... namespace:=car1`) gives each simulated
car its own topics; the bringup remaps the other nodes' /clock to the namespace's clock.

The physics advances one tick (`physics_dt`) every `physics_dt / real_time_factor` seconds of the
steady clock, on a thread of its own (a tick that comes late is not made up, as with a timer);
sensors publish every n-th tick. Not an executor timer: the tick rate then does not depend on how
an executor schedules timers, and the executor only serves the drive command, resets and the
status; a lock keeps them and the physics apart.
"""
from __future__ import annotations

import json
import math
import threading
import time
from typing import NoReturn

from ackermann_msgs.msg import AckermannDriveStamped
from geometry_msgs.msg import PoseWithCovarianceStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile
from rosgraph_msgs.msg import Clock as ClockMessage
from sensor_msgs.msg import Imu, LaserScan
from std_msgs.msg import String
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from ..errors import Robotxr1Error
from ..samples import yaw_from_quaternion
from ..sim.sensors import odometry_sample, scan_sample, ticks_per_reading
from ..sim.simulator import Simulator
from ..track.library import get_track
from .conversions import imu_message, planar_transform, sample_to_odometry, sample_to_scan, stamp_from_seconds
from .spin import node_main
from .undeclared_parameters import NamesUndeclaredParameters
from .visualization import track_markers

STATUS_PERIOD_S = 0.5  # wall time


def _read_only(description: str) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, read_only=True)


class SimNode(NamesUndeclaredParameters, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim", **kwargs)
        declare = self.declare_parameter
        track_name: str = declare("track", "eval", _read_only("built-in track name or track CSV path")).value
        seed: int = declare("seed", 0, _read_only("random seed of the sensor noise")).value
        self._start_s = float(declare("start_s", 0.0, _read_only("reset position along the racing line [m]")).value)
        self._tick_s = float(declare("physics_dt", 0.005, _read_only("physics step = one timer tick [s]")).value)
        rtf = float(declare("real_time_factor", 1.0, _read_only("simulated seconds per wall-clock second")).value)
        self._publish_clock: bool = declare("publish_clock", False, _read_only("publish clock (sim time)")).value
        self._every = {
            topic: ticks_per_reading(
                float(declare(f"{topic}_rate_hz", default, _read_only(f"{topic} rate [Hz]")).value), self._tick_s)
            for topic, default in (("odom", 50.0), ("scan", 40.0), ("imu", 100.0))
        }
        self._beam_stride = int(declare("scan_beam_stride", 1, _read_only("publish every n-th LiDAR beam")).value)
        if not rtf > 0.0:
            raise Robotxr1Error(f"sim: real_time_factor must be positive, got {rtf}")

        self._lock = threading.Lock()  # the simulator, the command and the clock offset
        self._sim = Simulator(get_track(track_name), dt=self._tick_s, seed=int(seed))
        self._command = (0.0, 0.0)  # steering, speed
        self._clock_offset = 0.0  # keeps /clock monotonic across resets
        self._ticks = 0
        self._resets = 0
        self._sim.reset(pose=self._start_pose())

        self._odom = self.create_publisher(Odometry, "odom", 10)
        self._scan = self.create_publisher(LaserScan, "scan", 10)
        self._imu = self.create_publisher(Imu, "imu", 10)
        self._tf = self.create_publisher(TFMessage, "tf", 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._tf_static = self.create_publisher(TFMessage, "tf_static", latched)
        self._track_markers = self.create_publisher(MarkerArray, "track_markers", latched)
        self._clock_publisher: Publisher | None = (
            self.create_publisher(ClockMessage, "clock", 10) if self._publish_clock else None)
        self._status = self.create_publisher(String, "~/status", 10)
        self.create_subscription(AckermannDriveStamped, "drive", self._on_drive, 10)
        self.create_subscription(PoseWithCovarianceStamped, "initialpose", self._on_initial_pose, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_timer(STATUS_PERIOD_S, self._publish_status, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._wall_start = time.monotonic()
        self._publish_static_frames()
        self._track_markers.publish(track_markers(self._sim.track, self._sim_time()))
        self._halt = threading.Event()
        self._physics = threading.Thread(target=self._run_physics, args=(self._tick_s / rtf,), name="sim_physics",
                                         daemon=True)
        self._physics.start()
        self.get_logger().info(f"track {track_name!r}, tick {self._tick_s} s, real-time factor {rtf}, "
                               f"clock {'on' if self._publish_clock else 'off'}")

    # --- time ----------------------------------------------------------------------------
    def _sim_time(self) -> float:
        """The time the published messages carry: the simulation's when it owns /clock."""
        if self._publish_clock:
            return self._clock_offset + self._sim.time
        return self.get_clock().now().nanoseconds * 1e-9

    # --- reset ---------------------------------------------------------------------------
    def _start_pose(self) -> tuple[float, float, float]:
        raceline = self._sim.track.raceline
        x, y = raceline.position(self._start_s)
        return float(x), float(y), float(raceline.heading(self._start_s))

    def reset_to_start(self) -> None:
        self._reset(self._start_pose())

    def _reset(self, pose: tuple[float, float, float]) -> None:
        with self._lock:
            self._clock_offset += self._sim.time
            self._sim.reset(pose=pose)
            self._command = (0.0, 0.0)
            self._resets += 1

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.reset_to_start()
        response.success = True
        response.message = f"car reset to s={self._start_s} m on the racing line"
        self.get_logger().info(response.message)
        return response

    def _on_initial_pose(self, message: PoseWithCovarianceStamped) -> None:
        pose = message.pose.pose
        q = pose.orientation
        try:
            self._reset((pose.position.x, pose.position.y, yaw_from_quaternion(q.x, q.y, q.z, q.w)))
        except Robotxr1Error as error:
            self.get_logger().error(f"initialpose ignored: {error}")
            return
        self.get_logger().info(f"car reset to initialpose ({pose.position.x:.2f}, {pose.position.y:.2f})")

    # --- simulation ----------------------------------------------------------------------
    def _on_drive(self, message: AckermannDriveStamped) -> None:
        steering, speed = float(message.drive.steering_angle), float(message.drive.speed)
        if math.isfinite(steering) and math.isfinite(speed):
            with self._lock:
                self._command = (steering, speed)
        else:
            self.get_logger().warning("non-finite drive command ignored", throttle_duration_sec=1.0)

    def _run_physics(self, period_s: float) -> None:
        """Tick every `period_s` until the node is destroyed (or its context shut down)."""
        due = time.monotonic()
        while not self._halt.is_set() and self.context.ok():
            due += period_s
            late = time.monotonic() - due
            if late > period_s:
                due += late  # too far behind: skip the missed ticks instead of racing through them
            elif late < 0.0 and self._halt.wait(-late):
                return
            try:
                self._tick()
            except Exception:
                if self.context.ok() and not self._halt.is_set():
                    raise
                return  # shut down between the check and the publishing

    def _tick(self) -> None:
        """Step under the lock and take what the sensors see; build and publish the messages after
        releasing it, so a drive command arriving meanwhile waits for the physics only."""
        sample = imu = scan = None
        with self._lock:
            steering, speed = self._command
            self._sim.step(steering, speed, self._tick_s)
            self._ticks += 1
            t = self._sim_time()
            if self._ticks % self._every["odom"] == 0:
                sample = odometry_sample(self._sim, t)
            if self._ticks % self._every["imu"] == 0:
                imu = (self._sim.state.yaw, self._sim.state.yaw_rate, *self._sim.imu())
            if self._ticks % self._every["scan"] == 0:
                scan = scan_sample(self._sim, t, self._beam_stride)
        if self._clock_publisher is not None:
            self._clock_publisher.publish(ClockMessage(clock=stamp_from_seconds(t)))
        if sample is not None:
            self._odom.publish(sample_to_odometry(sample))
            self._tf.publish(TFMessage(transforms=[planar_transform(t, "odom", "base_link", sample.x, sample.y,
                                                                    sample.yaw)]))
        if imu is not None:
            self._imu.publish(imu_message(t, *imu))
        if scan is not None:
            self._scan.publish(sample_to_scan(scan, scan_time=self._every["scan"] * self._tick_s))

    def _publish_static_frames(self) -> None:
        t = self._sim_time()
        mount = self._sim.lidar_config.mount_offset
        self._tf_static.publish(TFMessage(transforms=[
            planar_transform(t, "map", "odom"),
            planar_transform(t, "base_link", "laser", x=mount),
            planar_transform(t, "base_link", "imu"),
        ]))

    def destroy_node(self) -> None:
        """Stop the physics thread first: it publishes with this node's publishers."""
        halt = getattr(self, "_halt", None)
        if halt is not None:
            halt.set()
            self._physics.join()
        super().destroy_node()

    def status(self) -> dict:
        wall = time.monotonic() - self._wall_start
        with self._lock:
            return {
                "time": round(self._sim_time(), 3),
                "crashed": self._sim.crashed,
                "resets": self._resets,
                "achieved_real_time_factor": round(self._ticks * self._tick_s / wall, 2) if wall > 0 else None,
                "command": {"steering_angle": self._command[0], "speed": self._command[1]},
            }

    def _publish_status(self) -> None:
        self._status.publish(String(data=json.dumps(self.status())))


def main(args: list[str] | None = None) -> NoReturn:
    node_main(SimNode, args)


if __name__ == "__main__":
    main()
