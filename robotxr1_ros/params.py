"""The MPC parameter table: the one source of truth for the LLM-tunable parameters.

The controller, the ROS parameter descriptors, the prompts, the parser and the grammar all read
this table; nothing else lists parameter names, ranges or defaults. The first eleven are the
paper's; two more (`paper=False`) say what the eleven cannot: follow the centre line, and race
faster (or slower) than the racing line's speed profile. At their defaults the
controller is exactly the paper's. Which of them a model is asked about is its parameter set
(PARAM_SETS): the adapters trained on the paper's prompts see only the eleven.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from .errors import Robotxr1Error


class ParamError(Robotxr1Error):
    """An unknown parameter name or a value outside its allowed range."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    minimum: float
    maximum: float
    default: float
    unit: str
    meaning: str
    # A safety limit's out-of-range proposal is refused (the value in force is kept) rather than
    # clamped: clamping "a_min 50" to 0 would choose the most aggressive legal value.
    safety_limit: bool = False
    paper: bool = True  # one of the paper's eleven (False: this project's extension)

    def check(self, value: float) -> float:
        """Return `value` as a float, or raise ParamError naming the allowed range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{self.name}: expected a number in [{self.minimum}, {self.maximum}], got {value!r}")
        value = float(value)
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            raise ParamError(f"{self.name}={value} is outside the allowed range [{self.minimum}, {self.maximum}]")
        return value

    def clamp(self, value: float) -> float:
        return min(self.maximum, max(self.minimum, float(value)))


PARAM_TABLE: tuple[ParamSpec, ...] = (
    ParamSpec("qv", 0.0, 100.0, 10.0, "-", "weight on the velocity-tracking error"),
    ParamSpec("qn", 0.0, 100.0, 20.0, "-", "weight on the lateral deviation from the racing line"),
    ParamSpec("qalpha", 0.0, 100.0, 7.0, "-", "weight on the heading error"),
    ParamSpec("qac", 0.0, 1.0, 0.01, "-", "weight on the acceleration (smoothness)"),
    ParamSpec("qddelta", 0.0, 100.0, 0.1, "-", "weight on the steering rate"),
    ParamSpec("alat_max", 0.0, 20.0, 10.0, "m/s^2", "maximum lateral acceleration", safety_limit=True),
    ParamSpec("a_min", -20.0, 0.0, -10.0, "m/s^2", "minimum longitudinal acceleration (braking)", safety_limit=True),
    ParamSpec("a_max", 0.0, 20.0, 10.0, "m/s^2", "maximum longitudinal acceleration", safety_limit=True),
    ParamSpec("v_min", -2.0, 4.0, 1.0, "m/s", "minimum speed; negative allows reversing", safety_limit=True),
    ParamSpec("v_max", -1.0, 15.0, 12.0, "m/s", "maximum speed; negative forces reversing", safety_limit=True),
    ParamSpec("track_safety_margin", 0.0, 1.0, 0.3, "m", "inflation of the track boundary"),
    # The speed profile is planned again for a scale (control/reference_profile.py). The tyres hold
    # about 10.3 m/s^2 (mu 1.05) but the plan is kinematic and slip grows with speed: 1.1 laps every
    # track with every line, margin and acceleration limit; 1.15 slid off the circuit's fast narrow
    # bend at 8 m/s (measured; docs/reference.md).
    ParamSpec("speed_scale", 0.3, 1.1, 1.0, "-", "scale on the racing line's speed profile (above 1: race faster)",
              safety_limit=True, paper=False),
    ParamSpec("centre_blend", 0.0, 1.0, 0.0, "-", "line followed: 0 the racing line, 1 the centre line",
              paper=False),
)
PARAM_SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAM_TABLE}
PARAM_NAMES: tuple[str, ...] = tuple(PARAM_SPECS)
# The parameters a model is asked about: the paper's eleven, or all of them.
PARAM_SETS: dict[str, tuple[str, ...]] = {
    "paper": tuple(spec.name for spec in PARAM_TABLE if spec.paper),
    "extended": PARAM_NAMES,
}
# The shipped tuning adapter is trained on the extended set (docs/training.md); the paper's eleven
# stay a choice (`--param-set paper`) for the adapters trained on them.
DEFAULT_PARAM_SET = "extended"


def param_set(name: str) -> tuple[str, ...]:
    """The parameter names of a set (PARAM_SETS), or ParamError naming the known sets."""
    try:
        return PARAM_SETS[name]
    except KeyError:
        raise ParamError(f"unknown parameter set {name!r}; known: {sorted(PARAM_SETS)}") from None


def specs_of_set(specs: Iterable[ParamSpec], name: str) -> tuple[ParamSpec, ...]:
    """`specs` (e.g. a controller's effective ranges) narrowed to the parameter set `name`."""
    names = param_set(name)
    return tuple(spec for spec in specs if spec.name in names)


def set_specs(name: str = DEFAULT_PARAM_SET) -> tuple[ParamSpec, ...]:
    """The table's rows of the parameter set `name` (the full ranges)."""
    return specs_of_set(PARAM_TABLE, name)


DEFAULT_SPECS = set_specs()  # what a model is asked about unless told otherwise


def _default(name: str) -> float:
    return PARAM_SPECS[name].default


@dataclass(frozen=True)
class MpcParams:
    """One complete, validated set of the MPC parameters (defaults from PARAM_TABLE)."""

    qv: float = _default("qv")
    qn: float = _default("qn")
    qalpha: float = _default("qalpha")
    qac: float = _default("qac")
    qddelta: float = _default("qddelta")
    alat_max: float = _default("alat_max")
    a_min: float = _default("a_min")
    a_max: float = _default("a_max")
    v_min: float = _default("v_min")
    v_max: float = _default("v_max")
    track_safety_margin: float = _default("track_safety_margin")
    speed_scale: float = _default("speed_scale")
    centre_blend: float = _default("centre_blend")

    def __post_init__(self) -> None:
        for spec in PARAM_TABLE:
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))
        check_cross_rules(self.as_dict())

    def updated(self, changes: Mapping[str, float]) -> MpcParams:
        """A copy with `changes` applied; unknown names or out-of-range values raise ParamError."""
        unknown = sorted(set(changes) - set(PARAM_SPECS))
        if unknown:
            raise ParamError(f"unknown MPC parameter(s) {unknown}; known: {list(PARAM_NAMES)}")
        return replace(self, **dict(changes))

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in PARAM_NAMES}


def check_cross_rules(values: Mapping[str, float]) -> None:
    """The rules between parameters, on a complete set: the one place they are written.

    >>> check_cross_rules({"v_min": 1.0, "v_max": 0.5})
    Traceback (most recent call last):
    ...
    robotxr1_ros.params.ParamError: v_max=0.5 must be >= v_min=1.0
    """
    if values["v_max"] < values["v_min"]:
        raise ParamError(f"v_max={values['v_max']} must be >= v_min={values['v_min']}")


def parse_assignments(items: Iterable[str]) -> dict[str, float]:
    """Parse `name=value` strings (as given on a command line) into a dict; errors name the item."""
    changes: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(f"expected name=value, got {item!r}")
        if name not in PARAM_SPECS:
            raise ParamError(f"unknown MPC parameter {name!r}; known: {list(PARAM_NAMES)}")
        try:
            value = float(text)
        except ValueError:
            raise ParamError(f"{name}: {text!r} is not a number") from None
        changes[name] = PARAM_SPECS[name].check(value)
    return changes


assert tuple(f.name for f in fields(MpcParams)) == PARAM_NAMES, "MpcParams must mirror PARAM_TABLE"
