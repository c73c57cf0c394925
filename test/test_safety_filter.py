"""The safety filter between the MPC and /drive: whatever the MPC outputs, under whatever parameters,
the command sent satisfies every limit (hypothesis), and the attacks found on the live node are
corrected (no ROS)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robotxr1_ros.control.safety_filter import CORRECTIONS, Correction, SafetyFilter, VehicleLimits
from robotxr1_ros.params import PARAM_SPECS, MpcParams
from robotxr1_ros.sim.vehicle import VehicleParams

PERIOD_S = 0.025
VEHICLE = VehicleParams()
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def mpc_params(draw) -> MpcParams:
    """Any valid parameter set: each value in its table range, v_min <= v_max."""
    values = {name: draw(st.floats(spec.minimum, spec.maximum)) for name, spec in PARAM_SPECS.items()}
    if values["v_min"] > values["v_max"]:
        values["v_min"], values["v_max"] = values["v_max"], values["v_min"]
    values["v_min"] = max(values["v_min"], PARAM_SPECS["v_min"].minimum)
    values["v_max"] = min(max(values["v_max"], values["v_min"]), PARAM_SPECS["v_max"].maximum)
    return MpcParams(**values)


def assert_within_limits(previous: tuple[float, float], speed: float, steering: float, params: MpcParams,
                         period_s: float) -> None:
    """Every limit, written out from the vehicle's and the parameters' numbers."""
    assert math.isfinite(speed) and math.isfinite(steering)
    assert max(VEHICLE.v_min, min(params.v_min, 0.0)) <= speed <= min(VEHICLE.v_max, max(params.v_max, 0.0))
    step = VEHICLE.a_max * period_s
    assert min(previous[0], 0.0) - step - 1e-12 <= speed <= max(previous[0], 0.0) + step + 1e-12
    assert VEHICLE.s_min <= steering <= VEHICLE.s_max
    assert abs(steering - previous[1]) <= VEHICLE.sv_max * period_s + 1e-12


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(st.tuples(ANY_FLOAT, ANY_FLOAT, mpc_params()), min_size=1, max_size=40),
       period_s=st.floats(0.001, 0.2))
def test_every_output_satisfies_every_limit(commands, period_s):
    safety = SafetyFilter(period_s)
    previous = (0.0, 0.0)
    for speed, steering, params in commands:
        sent = safety.apply(speed, steering, params)
        assert_within_limits(previous, sent.speed, sent.steering, params, period_s)
        assert set(sent.corrections) <= set(CORRECTIONS)
        if not sent.corrections:
            assert (sent.speed, sent.steering) == (speed, steering)  # a command inside the limits passes unchanged
        previous = (sent.speed, sent.steering)


@settings(max_examples=100, deadline=None)
@given(previous_speed=st.floats(VEHICLE.v_min, VEHICLE.v_max), params=mpc_params())
def test_a_stop_is_always_allowed_at_once(previous_speed, params):
    safety = SafetyFilter(PERIOD_S)
    safety.speed = previous_speed
    assert safety.apply(0.0, safety.steering, params).speed == 0.0


def settle(safety: SafetyFilter, speed: float, params: MpcParams, steps: int = 200) -> float:
    for _ in range(steps):
        sent = safety.apply(speed, 0.0, params)
    return sent.speed


@pytest.mark.parametrize("measured", [20.0, 50.0, 300.0])
def test_measured_minus_half_is_capped_by_v_max(measured):
    """The attack: one odometry message of 20/50/300 m/s made the MPC command measured - 0.5."""
    safety = SafetyFilter(PERIOD_S)
    params = MpcParams(v_max=4.0)
    assert settle(safety, measured - 0.5, params) == 4.0
    assert safety.counts[Correction.SPEED_LIMIT] > 0


def test_lowering_v_max_while_fast_caps_the_next_command():
    safety = SafetyFilter(PERIOD_S)
    assert settle(safety, 12.0, MpcParams()) == 12.0
    sent = safety.apply(12.0, 0.0, MpcParams(v_max=5.0))
    assert sent.speed == 5.0 and sent.corrections == (Correction.SPEED_LIMIT,)


def test_speed_ramps_at_the_vehicle_acceleration_and_brakes_at_once():
    safety = SafetyFilter(PERIOD_S)
    sent = safety.apply(10.0, 0.0, MpcParams())
    assert sent.speed == pytest.approx(VEHICLE.a_max * PERIOD_S) and sent.corrections == (Correction.ACCELERATION,)
    settle(safety, 10.0, MpcParams())
    assert safety.apply(-2.0, 0.0, MpcParams(v_min=-2.0)).speed == pytest.approx(-VEHICLE.a_max * PERIOD_S)


def test_non_finite_command_stops_and_holds_steering():
    safety = SafetyFilter(PERIOD_S)
    settle(safety, 3.0, MpcParams())
    safety.apply(3.0, 0.05, MpcParams())
    for speed, steering in ((math.nan, 0.1), (3.0, math.inf), (-math.inf, math.nan)):
        sent = safety.apply(speed, steering, MpcParams())
        assert (sent.speed, sent.steering) == (0.0, 0.05)
        assert Correction.NON_FINITE in sent.corrections
    assert safety.counts[Correction.NON_FINITE] == 3


def test_steering_range_and_rate():
    safety = SafetyFilter(PERIOD_S)
    sent = safety.apply(0.0, 2.0, MpcParams())
    assert sent.steering == pytest.approx(VEHICLE.sv_max * PERIOD_S)
    assert sent.corrections == (Correction.STEERING_LIMIT, Correction.STEERING_RATE)
    for _ in range(100):
        sent = safety.apply(0.0, 2.0, MpcParams())
    assert sent.steering == VEHICLE.s_max


def test_standstill_is_allowed_even_with_a_positive_v_min_or_a_negative_v_max():
    safety = SafetyFilter(PERIOD_S)
    assert safety.apply(0.0, 0.0, MpcParams(v_min=3.0, v_max=4.0)).speed == 0.0
    sent = safety.apply(2.0, 0.0, MpcParams(v_min=-2.0, v_max=-0.5))
    # Forward is forbidden when reversing is forced.
    assert sent.speed == 0.0 and sent.corrections == (Correction.SPEED_LIMIT,)


def test_limits_come_from_the_vehicle():
    limits = VehicleLimits.of(VEHICLE)
    assert (limits.speed_min, limits.speed_max) == (-5.0, 20.0)
    assert (limits.steering_min, limits.steering_max, limits.steering_rate) == (-0.4189, 0.4189, 3.2)
    assert limits.acceleration == 9.51
    with pytest.raises(ValueError, match="period"):
        SafetyFilter(0.0)
