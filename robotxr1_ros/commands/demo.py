"""`robotxr1 demo`: the whole on-board loop in simulation, on the embedded default model.

The sim, MPC controller and LLM nodes of `robotxr1 run sim` talk over DDS in one process. The
car drives at default parameters, then the instruction is published on /robotxr1/instruction;
the LLM node judges the car's state, proposes MPC parameters, and the validated update reaches
the controller through its parameter service. A second scene (`--then`, default "Stop the car") then
stops the car: a stop takes the LLM node's fast path, without the model. The car's behaviour in
each scene is measured with the papers' metrics and plotted; the stop scene also by how fast and
how far the car stopped.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bench.stopping import stopping
from ..cases.control import REVERSE_SPEED, parse_reference_speed
from ..control.run_log import RAW_CHANNELS, RunLog
from ..errors import Robotxr1Error
from ..evaluation.metrics import driving_metrics
from ..evaluation.plots import plot_runs
from ..llm.node_config import DEFAULTS
from ..llm.prompts import require_instruction
from ..llm.stop_intent import is_stop
from ..nodes.bringup_runner import create_nodes
from ..track.library import get_track

UPDATE_TIMEOUT_S = 300.0  # wall seconds the model may take (a loaded 2-core machine is slow)


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="sim + MPC + LLM nodes: an instruction changes how the car drives")
    parser.add_argument("--instruction", default="Reverse the car")
    parser.add_argument("--model", default="", help="GGUF model (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--lora", default=DEFAULTS.lora_path, metavar="PATH",
                        help="GGUF LoRA adapter (default: the trained adapter shipped for the embedded model)")
    parser.add_argument("--base-only", action="store_true", help="the untrained base model, without any adapter")
    parser.add_argument("--track", default="eval")
    parser.add_argument("--before", type=float, default=8.0, help="simulated seconds at default parameters")
    parser.add_argument("--after", type=float, default=12.0, help="simulated seconds after the update")
    parser.add_argument("--then", default="Stop the car", metavar="INSTRUCTION",
                        help="the second scene's instruction (\"\": no second scene)")
    parser.add_argument("--then-after", type=float, default=5.0,
                        help="simulated seconds after the second scene's update")
    parser.add_argument("--out", default="out/demo")
    parser.set_defaults(func=run)


class DemoObserver:
    """Listens to the car and the LLM node; publishes the instruction."""

    def __init__(self, context) -> None:
        from nav_msgs.msg import Odometry
        from rclpy.node import Node
        from sensor_msgs.msg import Imu
        from std_msgs.msg import String

        self.node = Node("robotxr1_demo", context=context)
        self.rows: list[tuple[float, ...]] = []
        self.wall: list[float] = []  # when each row arrived (time.monotonic)
        self.accel = (0.0, 0.0)
        self.decisions: list[dict] = []
        self.updates: list[dict] = []
        self._instruction = self.node.create_publisher(String, "/robotxr1/instruction", 10)
        self.node.create_subscription(Odometry, "/odom", self._on_odometry, 50)
        self.node.create_subscription(Imu, "/imu", self._on_imu, 50)
        self.node.create_subscription(String, "/robotxr1/decision",
                                      lambda m: self.decisions.append(json.loads(m.data)), 10)
        self.node.create_subscription(String, "/robotxr1/update", lambda m: self.updates.append(json.loads(m.data)), 10)

    def _on_imu(self, message) -> None:
        self.accel = (message.linear_acceleration.x, message.linear_acceleration.y)

    def _on_odometry(self, message) -> None:
        from ..samples import odometry_to_sample

        sample = odometry_to_sample(message)
        self.wall.append(time.monotonic())
        self.rows.append((sample.t, sample.x, sample.y, sample.yaw, sample.vx, sample.vy, sample.yaw_rate, *self.accel))

    @property
    def sim_time(self) -> float:
        return self.rows[-1][0] - self.rows[0][0] if self.rows else 0.0

    def instruct(self, text: str) -> None:
        from std_msgs.msg import String

        self._instruction.publish(String(data=text))

    def run_log(self, track, start: float, end: float) -> RunLog:
        """The odometry between two sim times as a RunLog (controller channels are not observed)."""
        data = np.array(self.rows)
        t = data[:, 0] - data[0, 0]
        keep = (t >= start) & (t <= end)
        raw = {name: np.zeros(int(keep.sum())) for name in RAW_CHANNELS}
        for i, name in enumerate(("t", "x", "y", "yaw", "vx", "vy", "yaw_rate", "ax", "ay")):
            raw[name] = data[keep, i] if name != "t" else t[keep]
        return RunLog.from_raw(track, raw)


@dataclass(frozen=True)
class Scene:
    """One instruction of the demo: sim seconds since the first odometry, the LLM node's update."""
    instruction: str
    instructed_at: float
    instructed_wall: float  # time.monotonic()
    update: dict | None  # the first update record for the instruction (None: none came)
    updated_at: float  # when the update arrived (the instruction's time if none came)
    ended_at: float


def play_scene(executor, observer: DemoObserver, instruction: str, after: float) -> Scene:
    """Publish `instruction`, wait for its update, then drive on for `after` sim seconds."""
    print(f"t={observer.sim_time:.1f} s: instruction {instruction!r}")
    seen, expected = len(observer.updates), require_instruction(instruction)  # as the LLM node records it
    instructed_at, instructed_wall = observer.sim_time, time.monotonic()
    observer.instruct(instruction)

    def update() -> dict | None:
        return next((u for u in observer.updates[seen:] if u.get("instruction") == expected), None)

    if not spin_until(executor, update, timeout_s=UPDATE_TIMEOUT_S):
        print(f"no parameter update within {UPDATE_TIMEOUT_S:.0f} s (the model judged the car adherent)")
    updated_at = observer.sim_time
    spin_until(executor, lambda: observer.sim_time >= updated_at + after, timeout_s=10 * after + 30)
    return Scene(instruction, instructed_at, instructed_wall, update(), updated_at, observer.sim_time)


def stop_figures(observer: DemoObserver, scene: Scene) -> dict:
    """How fast and how far the car stopped after the scene's instruction, and how it stood."""
    data = np.array(observer.rows)
    t, speed = data[:, 0] - data[0, 0], np.hypot(data[:, 4], data[:, 5])
    on_sim = stopping(t, data[:, 1], data[:, 2], speed, scene.instructed_at)
    on_wall = stopping(observer.wall, data[:, 1], data[:, 2], speed, scene.instructed_wall)
    after = speed[t >= scene.instructed_at + on_sim.seconds] if on_sim.seconds is not None else speed[:0]
    update = scene.update or {}
    return {
        "update_path": update.get("path"), "update_applied": update.get("applied"),
        "update_latency_s": update.get("latency_s", {}).get("total"),
        "speed_at_instruction": round(on_sim.speed_at_start, 3),
        "to_standstill_sim_s": on_sim.seconds, "to_standstill_wall_s": on_wall.seconds,
        "distance_to_standstill_m": on_sim.distance_m,
        "mean_speed_after_standstill": round(float(after.mean()), 3) if after.size else None,
        "final_speed": round(float(speed[-1]), 3),
    }


def reference_speed(instruction: str) -> float:
    """The speed the metrics compare against: the one asked for, else 0 for a stop, else reversing."""
    try:
        return parse_reference_speed(instruction)
    except ValueError:
        return 0.0 if is_stop(instruction) else REVERSE_SPEED


def print_update(update: dict) -> None:
    if update["tuning"] is None:  # a stop's fast path: no model asked
        print(f"update ({update['path']}) applied: {update.get('applied')}; {update.get('changes')}; "
              f"latency {update['latency_s']['total']:.3f} s")
        return
    changes = update["tuning"]["update"]
    print(f"update (after a {update['trigger']}) applied: {update.get('applied')}; "
          f"accepted {changes.get('accepted')}, clamped {changes.get('clamped')}, "
          f"rejected {changes.get('rejected')}; latency {update['latency_s']['total']:.1f} s")


def spin_until(executor, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        if condition():
            return True
    return False


def run(args) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    if not args.instruction.strip():
        raise Robotxr1Error("the instruction must not be empty")
    track = get_track(args.track)
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    try:
        print(f"starting sim + mpc_controller + robotxr1 (model: {args.model or 'embedded SmolLM2-135M'}) ...")
        adapter = "" if args.base_only else args.lora
        nodes = create_nodes("sim", {"model_path": args.model, "lora_path": adapter, "instruction": "",
                                     "track": args.track}, context)
        observer = DemoObserver(context)
        executor = SingleThreadedExecutor(context=context)
        for node in [*nodes, observer.node]:
            executor.add_node(node)
        spin_until(executor, lambda: observer.sim_time >= args.before, timeout_s=10 * args.before + 30)
        scenes = [play_scene(executor, observer, args.instruction, args.after)]
        if args.then.strip():
            scenes.append(play_scene(executor, observer, args.then, args.then_after))
        executor.shutdown()
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    for decision in observer.decisions:
        verdict = decision["decision"]
        print(f"decision: {verdict.get('status')} {verdict.get('action') or ''} ({decision['latency_s']:.1f} s)")
    for scene in scenes:
        if scene.update is not None:
            print_update(scene.update)
    # (name, start, end, plot title, the instruction whose speed the metrics compare against)
    first = scenes[0]
    runs = [("before", 0.0, first.instructed_at, "before: default parameters", first.instruction),
            ("after", first.updated_at, first.ended_at, f"after: {first.instruction!r}", first.instruction)]
    runs += [("then", then.updated_at, then.ended_at, f"then: {then.instruction!r}", then.instruction)
             for then in scenes[1:]]
    logs = {name: observer.run_log(track, start, end) for name, start, end, _, _ in runs}
    references = {name: reference_speed(instruction) for name, _, _, _, instruction in runs}
    metrics = {name: driving_metrics(log, track.raceline.length, reference_speed=references[name])
               for name, log in logs.items()}
    print(f"{'':>14}" + "".join(f" {name:>9}" for name in metrics))
    print(f"{'ref. speed':>14}" + "".join(f" {references[name]:9.1f}" for name in metrics))
    for label, key in {"mean speed": "mean_speed", "rmse centre": "rmse_centre", "rmse raceline": "rmse_raceline",
                       "rmse speed": "rmse_speed", "rmse accel": "rmse_accel"}.items():
        print(f"{label:>14}" + "".join(f" {getattr(m, key):9.3f}" for m in metrics.values()))
    report = {"instruction": args.instruction, "decisions": observer.decisions, "updates": observer.updates,
              "metrics": {name: m.as_dict() for name, m in metrics.items()}}
    if len(scenes) > 1:
        report["then"] = {"instruction": args.then, **stop_figures(observer, scenes[1])}
        print("then: " + ", ".join(f"{key} {value}" for key, value in report["then"].items()))
    out = Path(args.out)
    plot = plot_runs(track, [(title, logs[name]) for name, _, _, title, _ in runs], out / "trajectory.png",
                     title="robotxr1 demo")
    (out / "demo.json").write_text(json.dumps(report, indent=2))
    print(f"trajectory plot: {plot}\nreport: {out / 'demo.json'}")
    return 0
