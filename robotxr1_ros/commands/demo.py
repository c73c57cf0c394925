"""`robotxr1 demo`: the whole on-board loop in simulation, on the embedded default model.

The sim, MPC controller and LLM nodes of `robotxr1 run sim` talk over DDS in one process. The
car drives at default parameters, then the instruction is published on /robotxr1/instruction;
the LLM node judges the car's state, proposes MPC parameters, and the validated update reaches
the controller through its parameter service. The car's behaviour before and after is measured
with the papers' metrics and plotted.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..cases.control import REVERSE_SPEED, parse_reference_speed
from ..control.run_log import RAW_CHANNELS, RunLog
from ..errors import Robotxr1Error
from ..evaluation.metrics import driving_metrics
from ..evaluation.plots import plot_runs
from ..llm.node_config import DEFAULTS
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
        instructed_at = observer.sim_time
        print(f"t={instructed_at:.1f} s: instruction {args.instruction!r}")
        observer.instruct(args.instruction)
        got_update = spin_until(executor, lambda: observer.updates, timeout_s=UPDATE_TIMEOUT_S)
        updated_at = observer.sim_time
        spin_until(executor, lambda: observer.sim_time >= updated_at + args.after, timeout_s=10 * args.after + 30)
        executor.shutdown()
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    for decision in observer.decisions:
        verdict = decision["decision"]
        print(f"decision: {verdict.get('status')} {verdict.get('action') or ''} ({decision['latency_s']:.1f} s)")
    if not got_update:
        print(f"no parameter update within {UPDATE_TIMEOUT_S:.0f} s (the model judged the car adherent)")
    for update in observer.updates[:1]:
        if update["tuning"] is None:  # a stop's fast path: no model asked
            print(f"update ({update['path']}) applied: {update.get('applied')}; {update.get('changes')}; "
                  f"latency {update['latency_s']['total']:.3f} s")
            continue
        changes = update["tuning"]["update"]
        print(f"update (after a {update['trigger']}) applied: {update.get('applied')}; "
              f"accepted {changes.get('accepted')}, clamped {changes.get('clamped')}, "
              f"rejected {changes.get('rejected')}; latency {update['latency_s']['total']:.1f} s")
    try:
        reference_speed = parse_reference_speed(args.instruction)
    except ValueError:
        reference_speed = REVERSE_SPEED
    before = observer.run_log(track, 0.0, instructed_at)
    after = observer.run_log(track, updated_at, updated_at + args.after)
    print(f"{'':>14} {'before':>9} {'after':>9}")
    rows = {"mean speed": "mean_speed", "rmse centre": "rmse_centre", "rmse raceline": "rmse_raceline",
            f"rmse speed vs {reference_speed:+.1f}": "rmse_speed", "rmse accel": "rmse_accel"}
    metrics = [driving_metrics(log, track.raceline.length, reference_speed=reference_speed) for log in (before, after)]
    for label, key in rows.items():
        print(f"{label:>14} {getattr(metrics[0], key):9.3f} {getattr(metrics[1], key):9.3f}")
    out = Path(args.out)
    plot = plot_runs(track, [("before: default parameters", before), (f"after: {args.instruction!r}", after)],
                     out / "trajectory.png", title="robotxr1 demo")
    (out / "demo.json").write_text(json.dumps({
        "instruction": args.instruction, "decisions": observer.decisions, "updates": observer.updates,
        "metrics": {"before": metrics[0].as_dict(), "after": metrics[1].as_dict()}}, indent=2))
    print(f"trajectory plot: {plot}\nreport: {out / 'demo.json'}")
    return 0
