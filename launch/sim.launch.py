"""Simulation: the F1TENTH simulator (publishing /clock), the MPC controller and the LLM node.

    ros2 launch robotxr1 sim.launch.py [track:=eval] [model_path:=/path/model.gguf] [instruction:="Reverse the car"]

The same nodes, parameters and remappings as `robotxr1 run sim` (robotxr1_ros/nodes/bringup.py).
"""
from robotxr1_ros.nodes.launch_support import launch_description


def generate_launch_description():
    return launch_description("sim")
