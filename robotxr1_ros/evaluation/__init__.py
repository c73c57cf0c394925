"""Evaluation of the LLM modules in the simulator: decision accuracy (decision datasets and rule
labels) and control adaptability (control cases, oracle, reports). See docs/evaluation.md."""
