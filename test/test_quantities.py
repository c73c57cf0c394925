"""Speeds read from instructions (cases/quantities.py): the values in m/s, the text the models see,
and what is not a speed. A table of phrasings, each read as listed (all of them: 100 %)."""
import pytest

from robotxr1_ros.cases.control import CONTROL_CASES, parse_reference_speed
from robotxr1_ros.cases.decision import DECISION_RULES
from robotxr1_ros.cases.quantities import CMS, KMH, MPH, MPS, find_speeds, format_number, normalise_speeds
from robotxr1_ros.llm.prompts import MAX_INSTRUCTION_CHARS, InstructionError, require_instruction
from robotxr1_ros.training.train_prompts import train_prompts

KPH = 1 / 3.6
MPH_IN_MPS = 0.44704
SAME = None  # the normalised text is the phrasing itself, byte for byte

# (phrasing, the speeds it names in m/s with their signs, the text the models see)
PHRASINGS = [
    # digits and m/s as the training phrasings write them: unchanged
    ("Drive at 2.5 m/s.", [2.5], SAME),
    ("Hold a constant speed of 3.2 meters per second.", [3.2], SAME),
    ("Cruise at exactly 2.2 metres per second.", [2.2], SAME),
    ("Go at a steady 3.0 m/s.", [3.0], SAME),
    ("Run at 1 metre per second.", [1.0], SAME),
    ("Drive at 2.5m/s", [2.5], SAME),
    ("Drive at 4 M/S", [4.0], SAME),
    ("Drive at -1 m/s", [-1.0], SAME),
    ("Drive backwards at 1 m/s.", [1.0], SAME),
    ("Keep between 2 and 3 m/s.", [2.0, 3.0], SAME),
    ("Keep 2-3 m/s.", [2.0, 3.0], SAME),
    ("Go from 1.5 to 2.5 m/s", [1.5, 2.5], SAME),
    ("Drive at 2.5 m/s and keep 0.5 m from the wall", [2.5], SAME),
    ("Accelerate at 2 m/s² up to 3 m/s", [3.0], SAME),
    # other spellings of m/s, typos included
    ("Go 4 mps", [4.0], "Go 4 m/s"),
    ("Drive at 2 meter/sec.", [2.0], "Drive at 2 m/s."),
    ("Drive at 1.5 metres a second.", [1.5], "Drive at 1.5 m/s."),
    ("Go 3 m per s", [3.0], "Go 3 m/s"),
    ("Go 3 m per second", [3.0], "Go 3 m/s"),
    ("Hold 2 m/sec", [2.0], "Hold 2 m/s"),
    ("Drive at 3 m s^-1", [3.0], "Drive at 3 m/s"),
    ("Drive at 3 ms-1", [3.0], "Drive at 3 m/s"),
    ("Drive at 2 meters per seconds", [2.0], "Drive at 2 m/s"),
    ("Drive at 2 metres every second", [2.0], "Drive at 2 m/s"),
    ("Drive at 2 mtrs/s", [2.0], "Drive at 2 m/s"),
    ("Drive at 2 meeters per sec", [2.0], "Drive at 2 m/s"),
    # decimal commas, fractions
    ("Drive at 2,5 m/s.", [2.5], "Drive at 2.5 m/s."),
    ("Hold 2,25 metres per second", [2.25], "Hold 2.25 m/s"),
    ("Drive at .5 m/s", [0.5], "Drive at 0.5 m/s"),
    ("Drive at 2½ m/s", [2.5], "Drive at 2.5 m/s"),
    ("Drive at 2 and a half m/s", [2.5], "Drive at 2.5 m/s"),
    ("Go 1,000 m/s", [1000.0], "Go 1000 m/s"),
    # numbers in words
    ("Hold two and a quarter metres a second.", [2.25], "Hold 2.25 m/s."),
    ("Drive at three point five m/s.", [3.5], "Drive at 3.5 m/s."),
    ("Go half a metre per second.", [0.5], "Go 0.5 m/s."),
    ("Go one and a half metres per second", [1.5], "Go 1.5 m/s"),
    ("Creep at three quarters of a metre per second", [0.75], "Creep at 0.75 m/s"),
    ("Drive at two point two five meters per second", [2.25], "Drive at 2.25 m/s"),
    ("Drive at a metre per second", [1.0], "Drive at 1 m/s"),
    ("Drive at zero point eight m/s", [0.8], "Drive at 0.8 m/s"),
    ("Reverse at minus one metre per second", [-1.0], "Reverse at -1 m/s"),
    ("Go at Four M/S", [4.0], "Go at 4 m/s"),
    ("Drive at one and three quarters m/s", [1.75], "Drive at 1.75 m/s"),
    # km/h
    ("Drive at 10 km/h", [10 * KPH], "Drive at 2.78 m/s (10 km/h)"),
    ("Drive at 10 kph.", [10 * KPH], "Drive at 2.78 m/s (10 kph)."),
    ("Drive at 10 kmh", [10 * KPH], "Drive at 2.78 m/s (10 kmh)"),
    ("Drive at 10 km/hr", [10 * KPH], "Drive at 2.78 m/s (10 km/hr)"),
    ("Drive at 9 kmph", [2.5], "Drive at 2.5 m/s (9 kmph)"),
    ("Drive at 18 kilometres per hour", [5.0], "Drive at 5 m/s (18 kilometres per hour)"),
    ("Drive at ten kilometers an hour", [10 * KPH], "Drive at 2.78 m/s (10 km/h)"),
    ("Cruise at 7.2 km/h.", [2.0], "Cruise at 2 m/s (7.2 km/h)."),
    ("Drive at 7,2 km/h", [2.0], "Drive at 2 m/s (7.2 km/h)"),
    ("Go 12 KM/H", [12 * KPH], "Go 3.33 m/s (12 KM/H)"),
    ("Go twenty-five kph", [25 * KPH], "Go 6.94 m/s (25 km/h)"),
    ("Drive at 72 km/h", [20.0], "Drive at 20 m/s (72 km/h)"),
    ("Hold 10 km / h", [10 * KPH], "Hold 2.78 m/s (10 km / h)"),
    ("Go 10 kilometer/hour", [10 * KPH], "Go 2.78 m/s (10 kilometer/hour)"),
    ("Go 10 k.p.h.", [10 * KPH], "Go 2.78 m/s (10 k.p.h.)"),
    ("Hold a hundred and ten km/h", [110 * KPH], "Hold 30.56 m/s (110 km/h)"),
    ("Reverse at -10 km/h", [-10 * KPH], "Reverse at -2.78 m/s (-10 km/h)"),
    ("Keep between 10 and 15 km/h", [10 * KPH, 15 * KPH], "Keep between 2.78 and 4.17 m/s (10 and 15 km/h)"),
    ("Drive 5-10 km/h", [5 * KPH, 10 * KPH], "Drive 1.39-2.78 m/s (5-10 km/h)"),
    ("Keep between eight and nine kph", [8 * KPH, 9 * KPH], "Keep between 2.22 and 2.5 m/s (8 and 9 km/h)"),
    # mph, cm/s
    ("Go 5 mph around the track.", [5 * MPH_IN_MPS], "Go 2.24 m/s (5 mph) around the track."),
    ("Drive at five miles per hour", [5 * MPH_IN_MPS], "Drive at 2.24 m/s (5 mph)"),
    ("Drive at 4 miles an hour", [4 * MPH_IN_MPS], "Drive at 1.79 m/s (4 miles an hour)"),
    ("Drive at 3 m.p.h.", [3 * MPH_IN_MPS], "Drive at 1.34 m/s (3 m.p.h.)"),
    ("Drive at 6 mi/h", [6 * MPH_IN_MPS], "Drive at 2.68 m/s (6 mi/h)"),
    ("Creep at 50 cm/s", [0.5], "Creep at 0.5 m/s (50 cm/s)"),
    ("Creep at fifty centimetres per second", [0.5], "Creep at 0.5 m/s (50 cm/s)"),
    # several speeds, and text normalised before (read as the original, left as it is)
    ("Go 10 km/h, then 2 m/s", [10 * KPH, 2.0], "Go 2.78 m/s (10 km/h), then 2 m/s"),
    ("Drive at 2.78 m/s (10 km/h)", [10 * KPH], SAME),
    ("Drive at 3 m/s (10 km/h)", [3.0, 10 * KPH], "Drive at 3 m/s (2.78 m/s (10 km/h))"),
]

# Numbers that are not speeds: the text stays as it is and no speed is read.
NOT_SPEEDS = [
    "Do 3 laps.", "Take turn 2 slowly.", "Stay between the 2 walls.", "Stop in 5 seconds.",
    "Brake before the 1st corner.", "Keep 0.5 m from the wall.", "Accelerate at 2 m/s².", "Accelerate at 2 m/s^2.",
    "Accelerate at 2 m/s2.", "Brake at 3 metres per second squared.", "Brake at 3 m/s/s.",
    "Brake at 3 metres per second per second.", "Drive 2 km.", "Drive for 1 hour.", "Lap in under 30 s.",
    "Speeds 1,2,3 m/s.", "Wait a second.", "Turn 90 degrees per second.", "Go 5 km away.", "Half the speed, please.",
    "Drive one lap.", "Take 10 ms to react.", "Use 10 percent throttle.", "Drive faster.", "Stay 2 m per lap wider.",
    "Turn 2, then 3 laps at half speed.",
]


@pytest.mark.parametrize("phrasing, speeds, normalised", PHRASINGS, ids=[p for p, _, _ in PHRASINGS])
def test_each_phrasing_is_read_as_listed(phrasing, speeds, normalised):
    found = find_speeds(phrasing)
    assert [speed.signed for speed in found] == pytest.approx(speeds, abs=1e-9)
    assert all(phrasing[speed.start:speed.end] == speed.text for speed in found)
    expected = phrasing if normalised is SAME else normalised
    assert normalise_speeds(phrasing) == expected
    # What the models see reads as the same speeds, and normalising it again changes nothing.
    assert [speed.signed for speed in find_speeds(expected)] == pytest.approx(speeds, abs=1e-9)
    assert normalise_speeds(expected) == expected


def test_the_table_covers_every_unit_and_form():
    assert len(PHRASINGS) >= 50 and len(NOT_SPEEDS) >= 20
    units = {speed.unit for phrasing, _, _ in PHRASINGS for speed in find_speeds(phrasing)}
    assert units == {MPS, KMH, MPH, CMS}
    assert sum(normalised is SAME for _, _, normalised in PHRASINGS) >= 10


@pytest.mark.parametrize("text", NOT_SPEEDS)
def test_numbers_that_are_not_speeds_are_not_read(text):
    assert find_speeds(text) == ()
    assert normalise_speeds(text) == text


def test_a_change_of_speed_is_no_target():
    changes = ("Go 2 km/h faster", "Slow down by 1 m/s", "Drive another 2 m/s quicker", "Go 0.56 m/s (2 km/h) faster")
    for text in changes:
        assert [speed.relative for speed in find_speeds(text)] == [True], text
    assert [speed.relative for speed in find_speeds("Drive at 10 km/h, then 1 m/s faster")] == [False, True]
    with pytest.raises(ValueError, match="exactly one speed"):
        parse_reference_speed("Go 2 km/h faster")


def test_every_case_phrasing_reaches_the_models_byte_for_byte():
    """The paper-set adapters were trained and are evaluated on these texts: normalising must not
    touch one of them (all name their speeds in digits and m/s). The open intents' phrasings may
    name any unit: those are trained as the car shows them."""
    texts = [text for case in CONTROL_CASES.values() if case.scored for text in (*case.train, *case.eval)]
    texts += [prompt.text for prompt in train_prompts()]
    texts += [text for instruction, rule in DECISION_RULES.items()
              for text in (instruction, *rule.restatements, *(variant.text for variant in rule.variants))]
    assert len(texts) > 200
    for text in texts:
        assert normalise_speeds(text) == text and require_instruction(text) == text, text


def test_the_reference_speed_is_read_in_any_unit():
    assert parse_reference_speed("Drive at 10 km/h") == pytest.approx(10 / 3.6)
    assert parse_reference_speed("Drive at 2.78 m/s (10 km/h)") == pytest.approx(10 / 3.6)  # as the model saw it
    assert parse_reference_speed("Hold two and a quarter metres a second.") == 2.25
    assert parse_reference_speed("Go 5 mph") == pytest.approx(2.2352)
    assert parse_reference_speed("Reverse at -1 m/s") == -1.0
    for text in ("Drive fast", "Keep between 10 and 15 km/h", "Accelerate at 2 m/s²"):
        with pytest.raises(ValueError, match="exactly one speed"):
            parse_reference_speed(text)


def test_the_instruction_the_modules_use_has_its_speeds_in_m_s():
    assert require_instruction("  Drive at\tten  kilometres an hour ") == "Drive at 2.78 m/s (10 km/h)"
    assert require_instruction(require_instruction("Go 5 mph")) == "Go 2.24 m/s (5 mph)"
    # The character bound is on that text: a message says why a text of the bound's length grew past it.
    text = "a" * (MAX_INSTRUCTION_CHARS - 8) + " 10 km/h"
    with pytest.raises(InstructionError, match="with its speeds in m/s"):
        require_instruction(text)


def test_figures_are_shown_with_at_most_two_decimals():
    assert [format_number(v) for v in (10 / 3.6, 2.5, 10.0, 0.004, -2.0, -0.001)] == \
        ["2.78", "2.5", "10", "0", "-2", "0"]
