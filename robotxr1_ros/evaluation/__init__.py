"""Evaluation of the LLM modules in the simulator: decision accuracy (decision datasets, rule
labels) and control adaptability (driving and scoring the control cases, oracle, reports); the
cases themselves are robotxr1_ros/cases/. See docs/evaluation.md."""
