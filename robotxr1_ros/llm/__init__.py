"""The on-board LLM layer, ROS-free: state features, prompts, retrieval, backends, grammars,
parsing, and the two modules (DecisionxR1, MPCxR1) shared by the ROS nodes, the evaluation and
the training."""
