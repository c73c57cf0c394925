"""Headroom: for each scored case there is a parameter set that beats the defaults by at least
30 % on the evaluation track and on the training circle. The sets are the oracle's cached
search results (robotxr1_ros/data/oracle/oracle.json, `robotxr1 eval oracle`); they are driven
again here, so a change of the simulator or the MPC that removes the headroom fails this test."""
import pytest

from robotxr1_ros.cases.control import scored_cases
from robotxr1_ros.control.closed_loop import drive_scenario
from robotxr1_ros.evaluation.control_cases import EVAL_SCENARIO, improvement, score_log, score_params
from robotxr1_ros.evaluation.control_eval import eval_prompts
from robotxr1_ros.evaluation.oracle import OracleCache
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track

REQUIRED_IMPROVEMENT = 0.30
# One prompt per case (the first held-out phrasing); the refvel one asks for a specific speed.
PROMPTS = eval_prompts(mini=True)


@pytest.mark.parametrize("track_name", ["eval", "circle"])
def test_each_case_has_a_parameter_set_that_beats_the_defaults_by_30_percent(track_name):
    track = get_track(track_name)
    cache = OracleCache.load()
    default_log = drive_scenario(track, MpcParams(), EVAL_SCENARIO)
    assert sorted(p.case for p in PROMPTS) == sorted(scored_cases())
    for prompt in PROMPTS:
        entry = cache.require(track, prompt)
        default = score_log(track, default_log, MpcParams(), prompt)
        best = score_params(track, entry.mpc_params(), prompt, EVAL_SCENARIO)
        assert not default.failure and not best.failure, (prompt, default.failure, best.failure)
        gain = improvement(default.rmse, best.rmse)
        assert gain >= REQUIRED_IMPROVEMENT, (
            f"{track_name} {prompt.case}: RMSE {default.rmse:.4f} -> {best.rmse:.4f} ({gain:+.1%}) "
            f"with {entry.changes()}")
