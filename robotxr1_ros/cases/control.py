"""The control cases: what an instruction to the MPC module asks for, and how the drive is judged.

One entry per case in CONTROL_CASES, each holding everything about it. A case is an *intent*: the
four scored cases of the paper's score, the racing line, and the intents of the open-instruction
benchmark (`open` phrasings; docs/evaluation.md):
- `error`: the per-sample signal of the driving log whose RMS scores the case (docs/reference.md's
  table), against the prompt's reference speed (None: no RMSE applies, the case is judged by its
  `achieved` check alone); `what` says it for reports;
- `reference`: how the reference speed is read from an instruction (None: the instruction names
  none, and REVERSE_SPEED stands in: the reports and the oracle cache key every prompt by a speed);
- `achieved`: did the car do what was asked, whatever the RMSE says (given that it did not fail);
- `goal`: the words the SFT reasoning opens with ("{speed}" is the reference speed);
- `teacher`: the SFT teacher's candidate answers, simplest first, each a function of the reference
  speed (training/teacher.py drives them and keeps the best; data/training/teacher.json);
- `train` / `eval`: its phrasings; eval phrasings are held out for the control evaluation;
- `open_train`: more training phrasings for the open instructions' training only (a case of the
  paper's score keeps its `train` list as its adapters were trained on it);
- `not_open`: train phrasings left out of the open instructions' training, because there they
  belong to another intent (the paper's "Go in reverse, carefully." is a careful reverse);
- `open`: the open-instruction benchmark's phrasings (`eval control --suite open`), written apart
  from every training phrasing (typos, unusual numbers, short commands; tested);
- `per_lap`, `must_drive`: the part of the run measured, and whether not finishing a lap fails;
- `drives`: False for an intent judged on the parameters alone (reset, out of scope), not driven;
- `start`: the parameters in force (changes from the defaults) when the instruction is given;
- `margin`: for an intent without an RMSE, how clearly a drive achieved it (beyond the threshold;
  the teacher prefers the candidate with the larger mean margin among equals);
- `rule`: the decision rule (cases/decision.py's instruction) that judges the intent on the car, if any;
- `scored`: part of the control adaptability score.

How a case is driven and scored is evaluation/control_cases.py; the metric itself is here.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..control.run_log import RunLog
from ..errors import Robotxr1Error
from ..params import PARAM_SPECS, MpcParams
from .quantities import find_speeds

REVERSE_SPEED = -1.0  # m/s, the reverse case's reference speed
SPEED_TOLERANCE = 0.3  # m/s; a speed request is met when the mean speed is this close to it
# The intents judged against the default drive on the evaluation track (mean speed 4.99 m/s over the
# first lap, nearest wall 0.49 m), thresholds chosen by driving sensible sets (docs/evaluation.md):
STILL_SPEED = 0.1  # m/s; standing still, the 'Don't move' rule's threshold
SLOWER_RATIO = 0.8  # slow down: mean speed at most this share of the default's (v_max 4: 0.75, v_max 5: 0.88)
FASTER_RATIO = 1.03  # speed up: at least this share (a_max 15: 1.04, a_max 20: 1.06, the most found)
WALL_GAIN = 0.1  # m; away from the walls: the nearest wall this much further than by default (margin 0.6: +0.11)
FASTEST_PROFILE = PARAM_SPECS["speed_scale"].maximum  # the fastest pace the car's friction allows
CAREFUL_REVERSE_SPEED = 0.8  # m/s; reversing carefully: slower backwards than the reverse case's 1 m/s (-0.98 driven)
# What the car has in force before a reset or an out-of-scope instruction: a careful set, not the
# defaults (a reset from the defaults, or "unchanged" meaning "reset", would prove nothing).
CAREFUL_SET = {"v_max": 2.0, "qac": 1.0, "track_safety_margin": 0.6}

# The reverse case's train phrasings that ask for care: a careful reverse in the open instructions.
CAREFUL_REVERSING = ("Reverse slowly around the track.", "Drive the lap backwards at a low speed.",
                     "Go in reverse, carefully.")

Signal = Callable[[RunLog, float], np.ndarray]  # (log, reference speed) -> one value per sample
TeacherRule = Callable[[float], dict[str, float]]  # reference speed -> the parameters it changes


# -- what a case's RMSE measures ------------------------------------------------------------------

def centre_offset(log: RunLog, reference_speed: float) -> np.ndarray:
    """m, lateral distance to the track's centre line."""
    return log.d_centre


def raceline_offset(log: RunLog, reference_speed: float) -> np.ndarray:
    """m, lateral distance to the racing line."""
    return log.d_race


def speed_error(log: RunLog, reference_speed: float) -> np.ndarray:
    """m/s, speed along the track minus the reference speed."""
    return log.speed_along - reference_speed


def acceleration(log: RunLog, reference_speed: float) -> np.ndarray:
    """m/s^2, IMU acceleration magnitude sqrt(ax^2 + ay^2)."""
    return np.hypot(log.ax, log.ay)


# -- reading the reference speed from an instruction ----------------------------------------------

def parse_reference_speed(text: str) -> float:
    """The speed an instruction asks for, in m/s (read by quantities.find_speeds, in any unit it
    knows), e.g. 3.5 from "Set the driving speed to 3.5 m/s", 2.78 from "Drive at 10 km/h"; a
    change ("2 km/h faster") is no target."""
    found = [speed for speed in find_speeds(text) if not speed.relative]
    if len(found) != 1:
        raise Robotxr1Error(f"expected exactly one speed (a target, e.g. '3.5 m/s' or '10 km/h') in {text!r}, "
                            f"found {len(found)}")
    return found[0].signed


# -- did the car do what was asked ----------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """A drive that did not fail (or, for an intent that is not driven, the parameters alone), as
    `achieved` sees it, beside the default parameters' drive of the same instruction."""

    params: MpcParams  # the parameters driven
    start: MpcParams  # the parameters in force before the instruction
    reference_speed: float = math.nan
    default_rmse: float = math.nan
    rmse: float = math.nan
    mean_speed: float = math.nan  # m/s along the track over the measured part (negative backwards)
    default_mean_speed: float = math.nan
    min_wall_distance: float = math.nan  # m, nearest wall over the measured part
    default_min_wall_distance: float = math.nan


def beats_the_defaults(outcome: Outcome) -> bool:
    return outcome.rmse < outcome.default_rmse


def drives_backwards(outcome: Outcome) -> bool:
    """Not merely slower: a car that only slows down improves the reverse RMSE without reversing."""
    return outcome.mean_speed < 0.0


def holds_the_speed(outcome: Outcome) -> bool:
    return abs(outcome.mean_speed - outcome.reference_speed) <= SPEED_TOLERANCE


def stands_still(outcome: Outcome) -> bool:
    return abs(outcome.mean_speed) < STILL_SPEED


def slower_than_the_defaults(outcome: Outcome) -> bool:
    """Still driving (a lap is required), at most SLOWER_RATIO of the default's mean speed."""
    return 0.0 < outcome.mean_speed <= SLOWER_RATIO * outcome.default_mean_speed


def faster_than_the_defaults(outcome: Outcome) -> bool:
    return outcome.mean_speed >= FASTER_RATIO * outcome.default_mean_speed


def further_from_the_walls(outcome: Outcome) -> bool:
    return outcome.min_wall_distance >= outcome.default_min_wall_distance + WALL_GAIN


def speed_ratio(outcome: Outcome) -> float:
    """Mean speed as a share of the default drive's (the margin of "faster"; "slower" wants it small)."""
    return outcome.mean_speed / outcome.default_mean_speed


def wall_gain(outcome: Outcome) -> float:
    """m, how much further the nearest wall stayed than in the default drive."""
    return outcome.min_wall_distance - outcome.default_min_wall_distance


def holds_the_speed_smoothly(outcome: Outcome) -> bool:
    """The speed, with less acceleration than the defaults (weak at low speeds, which are smooth anyway)."""
    return holds_the_speed(outcome) and beats_the_defaults(outcome)


def reverses_at_the_speed(outcome: Outcome) -> bool:
    return outcome.mean_speed < 0.0 and holds_the_speed(outcome)


def reverses_carefully(outcome: Outcome) -> bool:
    return -CAREFUL_REVERSE_SPEED <= outcome.mean_speed < 0.0


def is_the_defaults(outcome: Outcome) -> bool:
    return outcome.params == MpcParams()


def is_unchanged(outcome: Outcome) -> bool:
    return outcome.params == outcome.start


# -- the teacher's speed rules --------------------------------------------------------------------

def reverse_reference_speed(text: str) -> float:
    """The speed asked for backwards (negative, whatever sign the instruction writes), e.g. -0.5
    from "Back up at 0.5 m/s"."""
    return -abs(parse_reference_speed(text))


def standing_speed(text: str) -> float:
    """A stop's reference speed: zero, whatever the instruction says."""
    return 0.0


def speed_band(speed: float) -> dict[str, float]:
    """v_min and v_max both at the requested speed (v_min capped at its range)."""
    return {"v_min": min(speed, PARAM_SPECS["v_min"].maximum), "v_max": speed}


def reverse_band(speed: float) -> dict[str, float]:
    """Backwards at `speed` (negative): v_max as close to it as its range allows (at most 1 m/s
    backwards), v_min at it."""
    return {"v_min": max(speed, PARAM_SPECS["v_min"].minimum), "v_max": max(speed, PARAM_SPECS["v_max"].minimum)}


def speed_cap(speed: float) -> dict[str, float]:
    return {"v_min": min(speed, MpcParams().v_min), "v_max": speed}


def speed_cap_with_weight(speed: float) -> dict[str, float]:
    return {"qv": 50.0, **speed_cap(speed)}


# -- the cases ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ControlCase:
    name: str
    what: str  # what the RMSE measures (or what is checked), for reports
    error: Signal | None
    achieved: Callable[[Outcome], bool]
    goal: str
    teacher: Mapping[str, TeacherRule] = field(default_factory=dict)
    train: tuple[str, ...] = ()
    eval: tuple[str, ...] = ()
    open: tuple[str, ...] = ()
    open_train: tuple[str, ...] = ()
    not_open: tuple[str, ...] = ()
    reference: Callable[[str], float] | None = None
    per_lap: bool = True  # measured over the first lap (else over a fixed window)
    must_drive: bool = False  # no complete lap is a failure
    drives: bool = True
    start: Mapping[str, float] = field(default_factory=dict)
    rule: str = ""
    scored: bool = True
    margin: Callable[[Outcome], float] | None = None

    def reference_speed(self, text: str) -> float:
        return self.reference(text) if self.reference else REVERSE_SPEED

    @property
    def open_training(self) -> tuple[str, ...]:
        """Its phrasings in the open instructions' training: `train` but `not_open`, and `open_train`."""
        return (*(text for text in self.train if text not in self.not_open), *self.open_train)

    def start_params(self) -> MpcParams:
        return MpcParams().updated(dict(self.start))


CONTROL_CASES: dict[str, ControlCase] = {case.name: case for case in (
    ControlCase(
        "center", "lateral distance to the centre line [m]", centre_offset, beats_the_defaults,
        goal="keep to the middle of the track", must_drive=True,
        teacher={"wide margin": lambda _: {"track_safety_margin": 1.0},
                 "wide margin, loose line": lambda _: {"qn": 0.0, "track_safety_margin": 1.0},
                 "wide margin, slower": lambda _: {"track_safety_margin": 1.0, "v_max": 4.0},
                 "centre line": lambda _: {"centre_blend": 1.0},
                 "centre line, firm": lambda _: {"qn": 50.0, "centre_blend": 1.0}},
        train=("Keep the car in the middle between the two walls.",
               "Move over to the center of the track and stay there.",
               "Keep the same distance to the left and the right wall.",
               "Forget the racing line and drive down the middle.",
               "Keep well away from the track boundaries.",
               "Center the car on the track.",
               "Don't hug the walls, stay in the centre.",
               "Drive along the midline of the track.",
               "Stay centred between the boundaries, please.",
               "Run the lap in the middle of the lane.",
               "Drive with equal room on both sides.",
               "Move away from the edges to the midline and hold it.",
               "Keep to the centre of the track at all times.",
               "Steer so the gap to each wall is the same."),
        open_train=("Follow the centreline.", "Ride the midline.", "Center between the walls.",
                    "lane centre, thanks", "Centre line, please.", "Be in the centre of the track.",
                    "Stay in the middle of the road.", "Drive the centre line.", "keep it in the middle",
                    "Hold the middle of the track.", "Equal distance to both walls, please.",
                    "Take the centre of the track, not the racing line.", "Aim for the middle of the road.",
                    "Stay halfway between the walls.", "Keep centered on the road.", "middle pls",
                    "Run down the exact centre.", "Stay on the centre line all lap."),
        eval=("Keep the car in the middle of the track.",
              "Stay as far from both walls as you can.",
              "Drive along the center line of the track.",
              "Hold the midpoint between the left and the right wall.",
              "Avoid the walls and keep to the centre of the road."),
        open=("Stick to the centreline.", "cnter of the track pls", "Middle of the track please",
              "Centre yourself between the barriers.", "Keep equidistant from both sides.",
              "Hug the centre line, not the apex.", "stay centered", "Right down the middle!",
              "Track the midline, please."),
        rule="Drive on the centerline"),
    ControlCase(
        "refvel", "speed along the track minus the requested speed [m/s]", speed_error, holds_the_speed,
        goal="hold {speed:g} m/s", reference=parse_reference_speed,
        teacher={"speed band": speed_band, "speed cap": speed_cap, "speed cap, speed weight": speed_cap_with_weight},
        # Each names exactly one speed in m/s (parse_reference_speed).
        train=("Change your speed to 3.6 m/s.",
               "Drive at 2.8 meters per second.",
               "Keep the speed at 1.5 m/s.",
               "Go at a steady 3.0 m/s.",
               "Move at exactly 2.0 metres per second.",
               "Maintain 4.4 m/s around the lap.",
               "Target a speed of 1.2 m/s.",
               "Run the lap at 2.6 m/s.",
               "Please go 2.4 m/s.",
               "Slow to 1.4 m/s and hold it.",
               "Speed up to 3.8 m/s.",
               "Your target speed is 2.9 meters per second.",
               "Hold 3.4 m/s steadily.",
               "Run at a constant 0.8 m/s."),
        eval=("Drive at 2.5 m/s.",
              "Hold a constant speed of 3.2 meters per second.",
              "Go 1.8 m/s around the track.",
              "Set your speed to 4.0 m/s.",
              "Cruise at exactly 2.2 metres per second."),
        # Each names exactly one target speed, in any unit the reader knows (cases/quantities.py).
        open=("Go 2,5 m/s.", "Hold 10 km/h.", "three metres per second, please", "Target: 3.5m/s",
              "1.75 mps please", "cruise at 12 kph", "Keep it at two point five meters per second.",
              "Set speed = 4 m/s", "Run at 5 mph.")),
    ControlCase(
        "reverse", f"speed along the track minus {REVERSE_SPEED} m/s [m/s]", speed_error, drives_backwards,
        goal="drive backwards", per_lap=False,  # a lap backwards at 1 m/s would take over a minute
        teacher={"reverse at 1 m/s": lambda _: {"v_min": -1.0, "v_max": -1.0},
                 "reverse band": lambda _: {"v_min": -1.5, "v_max": -1.0},
                 "slow reverse band": lambda _: {"v_min": -1.2, "v_max": -0.8}},
        train=("Please reverse.",
               "Drive backwards around the track.",
               "Roll backwards.",
               "Switch to driving in reverse.",
               "Back up.",
               "Make the car go in reverse.",
               "Drive rear first.",
               "Reverse along the racing line.",
               "Reverse slowly around the track.",
               "Drive the lap backwards at a low speed.",
               "Go in reverse, carefully.",
               "Travel tail first along the track.",
               "Start going backwards and keep it up.",
               "Reverse gear, please."),
        eval=("Back the car up along the track.",
              "Drive in reverse.",
              "Go backwards slowly.",
              "Move the car in the reverse direction.",
              "Put it in reverse and keep driving."),
        open=("Reverse!", "Backwards please.", "put her in revers", "Go the other way round, backwards.",
              "Let's go backward.", "rear-first, go", "Engage reverse.", "Drive the wrong way, in reverse."),
        rule="Reverse the car", not_open=CAREFUL_REVERSING),
    ControlCase(
        "smooth", "IMU acceleration magnitude [m/s^2]", acceleration, beats_the_defaults,
        goal="drive smoothly", must_drive=True, rule="Drive smoothly",
        teacher={"slow": lambda _: {"v_max": 1.5},
                 "slow, smooth acceleration": lambda _: {"qac": 1.0, "v_max": 1.5},
                 "soft corners": lambda _: {"alat_max": 2.0, "qac": 1.0},
                 "gentle steering, moderate speed": lambda _: {"qac": 1.0, "qddelta": 50.0, "v_max": 2.0},
                 "half the profile": lambda _: {"speed_scale": 0.5},
                 "half the profile, smooth acceleration": lambda _: {"qac": 1.0, "speed_scale": 0.5}},
        train=("Smooth out your driving.",
               "Lower the sideways acceleration in the turns.",
               "Be gentle on the steering.",
               "No aggressive cornering, please.",
               "Drive as if you carried a full cup of coffee.",
               "Minimise the g-forces.",
               "Avoid sudden accelerations.",
               "Keep the motion calm and steady.",
               "Corner gently, no harsh moves.",
               "Cut down the lateral g-forces in the bends.",
               "Give the passengers a comfortable ride.",
               "Drive softly and calmly.",
               "Avoid abrupt steering and braking.",
               "Keep every manoeuvre gentle."),
        eval=("Drive gently and avoid jerky moves.",
              "Make the ride as smooth as possible.",
              "Keep the lateral acceleration low.",
              "Take the corners softly.",
              "Drive comfortably, without harsh steering."),
        # Care without a direction is smoothness (a careful reverse names the reverse).
        open_train=("Drive with care.", "Careful driving, please.", "Be cautious out there.",
                    "Take care in the corners.", "Easy does it.", "Be gentle.", "Less jolting, please.",
                    "Ease into the turns.", "No sudden moves.", "Drive like you have a sleeping baby on board.",
                    "Caution on every corner.", "gentle please", "Soft on the throttle and the steering.",
                    "Drive as if the road were icy.", "Easy on the curves.", "Less shaking, please.",
                    "I feel sick, calm it down.", "Handle the turns with care.",
                    "Pretend you're carrying a full cup of coffee.", "Gingerly through the bends.",
                    "Drive as if there were a vase on the back seat."),
        open=("Be careful.", "Drive carefully", "smoother please", "Take it easy on the turns.", "No jerks.",
              "Gentle driving, I'm carsick.", "Drive like there's an egg on the roof.", "Less g-force pls",
              "Careful round the bends.")),
    ControlCase("raceline", "lateral distance to the racing line [m]", raceline_offset, beats_the_defaults,
                goal="follow the racing line", must_drive=True, scored=False, rule="Drive on the racing line"),
    # The open benchmark's intents beyond the paper's four (not part of its score).
    ControlCase(
        "stop", "speed along the track [m/s]", speed_error, stands_still, goal="stand still",
        reference=standing_speed, per_lap=False, rule="Don't move", scored=False,
        teacher={"standstill": lambda _: {"v_min": 0.0, "v_max": 0.0}},
        train=("Stop the car.", "Come to a halt.", "Bring the car to a complete stop.", "Cease driving at once.",
               "Pull up and stay still.", "Don't drive any further.", "Hold the car still.", "Emergency stop!",
               "Stop moving.", "Halt the vehicle and wait here.", "Brake until the car stands.",
               "Stand still for now.", "End the run and stop.", "Don't move an inch.", "Stay where you are.",
               "Wait here, no movement.", "Keep the car parked.", "Hold position.", "Pause the car.",
               "Bring it to rest.", "Zero speed, please."),
        open=("Stop.", "Halt!", "stop right now", "Freeze.", "Come to a standstill.", "Stay put.", "Park it.",
              "Do not budge.", "Brake to zero and wait.")),
    ControlCase(
        "slower", f"mean speed at most {SLOWER_RATIO:g} x the default drive's, a lap completed", None,
        slower_than_the_defaults, goal="drive slower than now", must_drive=True, scored=False,
        teacher={"lower top speed": lambda _: {"v_max": 4.0},
                 "lower profile": lambda _: {"speed_scale": 0.7},
                 "much lower profile": lambda _: {"speed_scale": 0.5}},
        train=("Drive more slowly.", "Slow it down a bit.", "Reduce the pace.", "You're going too fast.",
               "Lower your speed.", "Go slower around the lap.", "Take the lap at a slower pace.",
               "Decrease the speed, please.", "Less speed.", "Calm the pace down.", "Drop the speed somewhat.",
               "Drive at a more relaxed pace.", "Be slower than you are now."),
        open=("Slow down.", "slower pls", "Ease off the throttle.", "Take it down a notch, too fast.",
              "Reduce your speed.", "Not so fast!", "Go a bit slower", "Back off the pace a little.",
              "Drive slower than now.")),
    ControlCase(
        "faster", f"mean speed at least {FASTER_RATIO:g} x the default drive's, a lap without a crash", None,
        faster_than_the_defaults, goal="drive faster without crashing", must_drive=True, scored=False,
        margin=speed_ratio,
        teacher={"harder acceleration": lambda _: {"a_max": 20.0},
                 "harder acceleration and corners": lambda _: {"alat_max": 20.0, "a_max": 20.0},
                 "faster profile": lambda _: {"speed_scale": FASTEST_PROFILE},
                 "faster profile, harder acceleration": lambda _: {"a_max": 15.0, "speed_scale": FASTEST_PROFILE}},
        train=("Drive faster.", "Increase the speed.", "Go quicker.", "Speed it up a little.",
               "Raise the pace, but stay on the track.", "Drive as fast as is safe.", "More speed, please.",
               "Set a faster lap time.", "Race mode: go as fast as you can safely.", "Hurry up.",
               "Accelerate harder and go faster.", "You're too slow, go faster.", "Push the pace.",
               "Step on it.", "Put your foot down.", "Faster lap, please.", "Go flat out, safely.",
               "Drive like you're in a race.", "Max speed without hitting anything.", "Quicken up.",
               "Attack the lap.", "Give it more gas.", "Quicker.", "More pace, please.",
               "Faster pace, let's go.", "Hurry, we're late.", "Speed things up.", "Up the tempo.", "Get a move on.",
               "Lap quicker.", "Shave time off the lap.", "Gas it.", "Pedal to the metal, but stay safe.",
               "Race pace now.", "Go for a quick lap.", "Full speed, no crashes.", "Less dawdling, more speed.",
               "Go faster than this.", "Drive quicker round the track.", "Let it rip, safely.",
               "Hit the gas, we're racing."),
        open=("Go faster.", "Speed up!", "faster faster", "Push harder, we're racing.",
              "Race: fastest lap you can, without crashing.", "Quicker laps please.", "Floor it (but don't crash).",
              "Pick up the pace.", "Go go go, full attack.")),
    ControlCase(
        "walls", f"nearest wall at least {WALL_GAIN:g} m further than in the default drive, a lap completed", None,
        further_from_the_walls, goal="keep away from the walls", must_drive=True, scored=False, margin=wall_gain,
        teacher={"wider margin": lambda _: {"track_safety_margin": 0.6},
                 "widest margin": lambda _: {"track_safety_margin": 1.0},
                 "centre line, wider margin": lambda _: {"track_safety_margin": 0.6, "centre_blend": 1.0}},
        train=("Steer clear of the walls.", "Keep a safe distance from the boundaries.",
               "Don't drive so close to the walls.", "Give yourself more room to the barriers.",
               "Keep your distance from the track edges.", "Drive further from the walls.",
               "More clearance to the sides, please.", "Avoid getting near the boundaries.",
               "Leave more space between the car and the walls.", "Keep off the walls.",
               "Don't scrape the barriers.", "Stay well inside the track limits.", "Keep clear of the boundary walls.",
               "The walls are too close, move away.", "Don't get near the barriers.", "Wider berth to the walls.",
               "Stay off the edges of the track.", "Away from the sides, please.", "Barriers: give them a wide berth.",
               "Hold a wider line off the barriers.", "Keep well clear of the sides.", "Stay further inside the track.",
               "Leave a gap on both sides.", "Don't brush the barriers.", "You're hugging the edge, move in.",
               "avoid the barriers", "Move off the walls.", "Watch the walls, give them room.",
               "keep off the sides pls", "Too near the barrier, keep away.", "Avoid the boundries.",
               "keep off teh walls", "Wall's too close, give it space."),
        open=("Keep away from the walls.", "Stay clear of the barriers.", "Don't get close to the edges.",
              "Give the walls more room.", "more space to the boundaries pls",
              "You're too close to the wall, back off it.", "Leave a bigger gap to the sides.", "Avoid the wals.")),
    ControlCase(
        "speed_smooth", "IMU acceleration magnitude [m/s^2], at the requested speed", acceleration,
        holds_the_speed_smoothly, goal="hold {speed:g} m/s smoothly", reference=parse_reference_speed, scored=False,
        teacher={"speed band, smooth acceleration": lambda speed: {**speed_band(speed), "qac": 1.0}},
        # Each names exactly one speed in m/s (parse_reference_speed).
        train=("Drive at 2.4 m/s, smoothly.", "Hold 3.1 m/s and avoid jerky moves.",
               "Move at 1.6 m/s with a soft touch.",
               "Smoothly keep the speed at 2.7 metres per second.", "Cruise gently at 3.3 m/s.",
               "Keep 1.9 m/s with a calm, smooth ride.", "Hold 4.1 m/s in comfort.",
               "Drive 2.1 meters per second and keep it soft.", "A gentle 3.7 m/s, please.",
               "Run at 1.3 m/s without harsh moves.", "Steady and smooth at 2.9 m/s.",
               "Go at 3.9 m/s but be easy on the steering."),
        open=("3 m/s, gently.", "Drive at 2.5 m/s and keep it smooth.", "Smoothly hold 10 km/h.",
              "two metres per second, no jerky moves", "Go 3.5 m/s but be gentle in the corners.",
              "Cruise smoothly at 1.5m/s.", "Gentle ride at 4 m/s please.", "Comfortable 2 m/s.")),
    ControlCase(
        "reverse_careful", f"speed along the track minus {REVERSE_SPEED} m/s [m/s], backwards slower", speed_error,
        reverses_carefully, goal="reverse carefully", per_lap=False, rule="Reverse the car", scored=False,
        teacher={"slow reverse": lambda _: {"v_min": -0.5, "v_max": -0.5}},
        open_train=CAREFUL_REVERSING,
        train=("Reverse, but carefully.", "Drive backwards very slowly.", "Back up gently.",
               "Ease it out backwards with care.", "Careful reversing, please.", "Reverse gently.", "Slowly back up.",
               "Cautiously drive in reverse.", "Backwards, and take it easy.",
               "Go in reverse at a crawl.", "Carefully reverse along the track.", "Slowly roll the car backwards.",
               "Reverse with great care.", "Back up, nice and slow.", "Reverse softly and slowly.",
               "Reverse cautiously and slowly.", "Creep backwards.", "Move backwards with caution.",
               "Gingerly reverse the car.", "Back up with caution, no rush.", "Take it slow in reverse.",
               "Reverse like you are parking: careful and slow."),
        open=("Back it up, but carefully.", "Back up slowly and gently.", "Carefully drive backwards.",
              "reverse slow and steady", "Gently roll backwards at 0.5 m/s.", "Backwards, nice and easy.",
              "Reverse cautiously.", "Ease the car backwards, careful.")),
    ControlCase(
        "reverse_speed", "speed along the track minus the requested backwards speed [m/s]", speed_error,
        reverses_at_the_speed, goal="reverse at {speed:g} m/s", reference=reverse_reference_speed, per_lap=False,
        rule="Reverse at 1 m/s", scored=False, teacher={"reverse band": reverse_band},
        # Each names exactly one speed, backwards, of 1.2 m/s at most (v_max cannot go below -1 m/s,
        # so a faster one is held at about 1 m/s).
        train=("At 0.7 m/s, drive in reverse.", "Reverse the car at 1.05 metres per second.",
               "Drive backwards at 0.4 m/s.",
               "Go in reverse at 0.45 m/s.", "Roll backwards at 0.9 meters per second.", "Reverse, 1.2 m/s.",
               "Back the car up at 0.6 m/s.", "Drive tail first at 1.2 m/s.", "Reverse along the track at 0.8 m/s.",
               "Move backwards at 0.35 m/s.", "Back up slowly, 0.3 m/s.", "Reverse at a speed of 1.1 m/s.",
               "Backwards at 0.65 m/s please.", "Reverse the car, 0.85 m/s.", "reversing at 0.95 m/s",
               "Drive backward at 2 km/h.", "Reverse the whole way at 1.15 m/s.", "In reverse, hold 0.75 m/s.",
               "Reverse, and keep it to 0.4 m/s.", "Roll back at 0.2 m/s.", "Tail first, 0.9 m/s.",
               "Reverse carefully at 0.6 m/s.", "Backwards, but gently, at 0.45 m/s."),
        open=("Back up at 0.5 m/s.", "Reverse at half a metre per second.", "backwards 1 m/s",
              "Three quarters of a metre per second, backwards.",
              "Go backward at 3 km/h.", "Backwards, one metre a second.", "Reverse, speed 1.2m/s.",
              "Drive in reverse at 0.25 metres a second.")),
    ControlCase(
        "reset", "the parameters equal the defaults (from a careful set in force)", None, is_the_defaults,
        goal="reset every parameter to its default", drives=False, start=CAREFUL_SET, scored=False,
        teacher={"defaults": lambda _: MpcParams().as_dict()},
        train=("Put the parameters back as they were at the start.", "Return to the default settings.",
               "Restore the defaults.",
               "Go back to the original tuning.", "Use the standard parameters again.", "Reset the controller.",
               "Cancel every change and use the defaults.", "Revert to the default configuration.",
               "Set everything back to normal.", "Factory reset the MPC.", "Back to the baseline settings.",
               "Clear all adjustments.", "Reset.", "Defaults.", "Back to the default parameters, please.",
               "Undo your tuning.", "Start over with the original settings.", "Use the default setup.",
               "Restore the standard tuning.", "Wipe all tuning.", "Go back to how it was.",
               "Revert all changes.", "Load the stock parameters.", "Stock settings again.",
               "Throw away the changes and use the standard values.", "default settings pls"),
        open=("Reset to the default parameters.", "Back to defaults.", "restore the factory settings",
              "Undo all changes.", "Go back to the standard setup.", "Reset everything.", "defaults please",
              "Forget my earlier instructions and use the default tuning.", "Reset the MPC parameters.")),
    ControlCase(
        "out_of_scope", "the parameters unchanged (from a careful set in force)", None, is_unchanged,
        goal="change nothing: not driving, or impossible", drives=False,
        start=CAREFUL_SET, scored=False, teacher={"no change": lambda _: {}},
        train=("Sing a song.", "What time is it?", "Order a pizza.", "Jump over the wall.", "Drive underwater.",
               "Fly over the track.", "Write me a poem.", "How tall is Mount Everest?", "qwerty zxcv",
               "Drive at 500 km/h through the barrier.", "Turn the car into a boat.", "Open the window.",
               "Call my mother.", "Hello there!", "Crash into the wall on purpose.", "Punch through the barrier.",
               "Smash through the barriers.", "Beam the car to the pit lane.", "Drive upside down.",
               "Make the car fly.",
               "Bake a cake.", "What's the weather like?", "Recite the alphabet.", "Turn on the radio.",
               "Grow wings.", "Translate this to French.", "zzzz", "Drive on the ceiling.", "Go through the fence.",
               "Ram the wall.", "Jump the car over the track.", "Drive off the edge of the world.", "Drive to Paris.",
               "Park on the roof.", "Dig a tunnel.", "Read me the news.", "What is 2 plus 2?", "Do my homework.",
               "Paint the car red.", "Dance!", "Swim to the island.", "lkjhg", "Summon a dragon.",
               "Go to the kitchen.", "Drive into the barrier at full speed.", "Who are you?",
               "Plough through the side wall.", "Break through the track barrier.", "Go right through the boundary."),
        open=("Fly to the moon.", "What's the capital of France?", "Tell me a joke.", "asdfgh",
              "Drive through the wall.", "Turn into a submarine.", "Play some music.", "Make me a coffee.",
              "Teleport to the finish line.")),
)}


def control_case(name: str) -> ControlCase:
    try:
        return CONTROL_CASES[name]
    except KeyError:
        raise Robotxr1Error(f"unknown control case {name!r}; known: {list(CONTROL_CASES)}") from None


def scored_cases() -> tuple[str, ...]:
    """The cases of the control adaptability score (docs/reference.md: 4 cases x 5 phrasings)."""
    return tuple(name for name, case in CONTROL_CASES.items() if case.scored)


def eval_phrasings() -> list[tuple[str, str]]:
    """(case, instruction) for every held-out phrasing of a scored case."""
    return [(name, text) for name in scored_cases() for text in CONTROL_CASES[name].eval]


def open_phrasings() -> list[tuple[str, str]]:
    """(intent, instruction) for every phrasing of the open-instruction benchmark."""
    return [(name, text) for name, case in CONTROL_CASES.items() for text in case.open]
