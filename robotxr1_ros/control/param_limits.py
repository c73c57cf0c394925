"""The ranges a running controller accepts for the 11 MPC parameters.

PARAM_TABLE's ranges, narrowed twice: by the car's config (`limits.<name>: [low, high]`, never
wider than the table) and by the brake floor, which keeps a_min at or below a negative
deceleration so that no update, from an operator or the LLM, can leave the car unable to brake.
The cross rules between parameters stay in params.check_cross_rules (MpcParams applies them).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..params import PARAM_SPECS, MpcParams, ParamError, ParamSpec

DEFAULT_BRAKE_FLOOR = -1.0  # m/s^2: a_min may be set no higher than this


def narrowed_specs(limits: Mapping[str, Sequence[float]]) -> dict[str, ParamSpec]:
    """PARAM_SPECS with the car's [low, high] ranges applied; defaults are clamped into them.

    Raises ParamError for an unknown name, a malformed pair, or a range reaching outside the table.
    """
    specs = dict(PARAM_SPECS)
    for name, bounds in limits.items():
        if name not in PARAM_SPECS:
            raise ParamError(f"limits: unknown MPC parameter {name!r}; known: {list(PARAM_SPECS)}")
        if len(bounds) != 2:
            raise ParamError(f"limits.{name}: expected [low, high], got {list(bounds)}")
        spec = PARAM_SPECS[name]
        low, high = (float(value) for value in bounds)
        if not spec.minimum <= low <= high <= spec.maximum:
            raise ParamError(f"limits.{name}=[{low}, {high}] must lie inside [{spec.minimum}, {spec.maximum}]"
                             " with low <= high: a car config may narrow a range, never widen it")
        specs[name] = replace(spec, minimum=low, maximum=high, default=min(high, max(low, spec.default)))
    return specs


def validated_update(current: MpcParams, specs: Mapping[str, ParamSpec],
                     changes: Mapping[str, float]) -> MpcParams:
    """`current` with `changes` applied, checked against the (narrowed) specs and the cross rules
    (MpcParams runs params.check_cross_rules on the combined set); raises ParamError otherwise."""
    for name, value in changes.items():
        if name in specs:
            specs[name].check(value)
    return current.updated(changes)


@dataclass(frozen=True)
class ParamLimits:
    """The effective ranges of one controller; `update` is the one gate every change passes."""

    specs: Mapping[str, ParamSpec]
    brake_floor: float

    @classmethod
    def create(cls, car_limits: Mapping[str, Sequence[float]] | None = None,
               brake_floor: float = DEFAULT_BRAKE_FLOOR) -> ParamLimits:
        """The table narrowed by `car_limits` and with a_min capped at `brake_floor` (< 0)."""
        specs = narrowed_specs(car_limits or {})
        floor = float(brake_floor)
        a_min = specs["a_min"]
        if not (math.isfinite(floor) and floor < 0.0):
            raise ParamError(f"brake_floor={brake_floor} must be a negative deceleration [m/s^2]: "
                             "the car must always be able to brake")
        if floor < a_min.minimum:
            raise ParamError(f"brake_floor={floor:g} lies below the lowest allowed a_min={a_min.minimum:g}: "
                             "no a_min would be accepted")
        top = min(a_min.maximum, floor)
        specs["a_min"] = replace(a_min, maximum=top, default=min(top, a_min.default))
        return cls(specs, floor)

    def update(self, current: MpcParams, changes: Mapping[str, float]) -> MpcParams:
        """`current` with `changes` applied if every value and the combined set are allowed;
        raises ParamError with the reason otherwise (nothing is applied then)."""
        a_min = changes.get("a_min")
        if isinstance(a_min, (int, float)) and not isinstance(a_min, bool) and a_min > self.brake_floor:
            raise ParamError(f"a_min={float(a_min):g} is above the brake floor {self.brake_floor:g} m/s^2: "
                             "the car must always be able to brake "
                             f"(allowed a_min: [{self.specs['a_min'].minimum:g}, {self.brake_floor:g}])")
        return validated_update(current, self.specs, changes)

    def initial(self, values: Mapping[str, float]) -> MpcParams:
        """A complete parameter set (e.g. a node's declared values), checked like an update."""
        return self.update(MpcParams(**{name: spec.default for name, spec in self.specs.items()}), values)
