"""ROS 2 nodes of robotxr1: thin wrappers around the ROS-free simulator, MPC and LLM modules."""
