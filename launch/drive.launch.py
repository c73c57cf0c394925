"""On the car: the LLM node and the MPC controller, with config/robotxr1.yaml.

    ros2 launch robotxr1 drive.launch.py [model_path:=/path/model.gguf] [instruction:="Drive on the centerline"]
        [track:=/maps/my_track.csv] [odom_topic:=/pf/pose/odom] [scan_topic:=/scan] [imu_topic:=/sensors/imu/raw]
        [drive_topic:=/drive]

`--show-args` lists every argument; docs/car_setup.md says how to run on your own circuit and topics.

The same nodes, parameters and remappings as `robotxr1 run drive` (robotxr1_ros/nodes/bringup.py).
"""
from robotxr1_ros.nodes.launch_support import launch_description


def generate_launch_description():
    return launch_description("drive")
