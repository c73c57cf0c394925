"""launch_testing description of the car's bringup: drive.launch.py (controller + LLM node) with the
simulator beside it, as a car's drivers would be. Run by test/test_launch_drive.py through
`launch_test`, in the DDS domain given by ROS_DOMAIN_ID, with the parameter file named by
ROBOTXR1_TEST_CONFIG; test/ must be on PYTHONPATH (the probe helpers live there).

While the nodes run: the car drives and an instruction leads to an update applied on the
controller. After launch_testing has shut everything down (SIGINT): every process exited 0.
"""
from __future__ import annotations

import os
import unittest

import launch
import launch_ros.actions
import launch_testing
import launch_testing.actions
import launch_testing.asserts
from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

START_TIMEOUT_S = 90.0
UPDATE_TIMEOUT_S = 120.0


def generate_test_description():
    launch_file = os.path.join(get_package_share_directory("robotxr1"), "launch", "drive.launch.py")
    # Wall-clock time like a car: the simulator does not publish /clock here.
    sim = launch_ros.actions.Node(package="robotxr1", executable="sim", name="sim", output="screen",
                                  parameters=[{"publish_clock": False}])
    drive = IncludeLaunchDescription(PythonLaunchDescriptionSource(launch_file),
                                     launch_arguments={"config": os.environ["ROBOTXR1_TEST_CONFIG"]}.items())
    return launch.LaunchDescription([sim, drive, launch_testing.actions.ReadyToTest()]), {"sim": sim}


class TestDriving(unittest.TestCase):
    def test_the_car_drives_and_an_instruction_retunes_the_controller(self):
        from launch_harness import CarProbe
        from ros_fixtures import make_context

        context = make_context(int(os.environ["ROS_DOMAIN_ID"]))
        car = CarProbe(context)
        try:
            self.assertTrue(car.wait(lambda: {"/sim", "/mpc_controller", "/robotxr1"} <= car.node_names(),
                                     START_TIMEOUT_S), "nodes did not come up")
            self.assertTrue(car.wait(lambda: car.speed() > 1.0, START_TIMEOUT_S), "the car does not drive")
            before = car.probe.latest("status")["params"]
            car.instruct("Drive at 1.5 m/s")
            self.assertTrue(car.wait(car.applied_update, UPDATE_TIMEOUT_S), car.probe.snapshot("update"))
            self.assertTrue(car.wait(lambda: car.probe.latest("status")["params"] != before, 10.0))
        finally:
            car.close()
            context.try_shutdown()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_every_process_exited_cleanly(self, proc_info, proc_output):
        launch_testing.asserts.assertExitCodes(proc_info)  # every process, code 0
        self.assertEqual(len(proc_info.process_names()), 3)
        self.assertNotIn("Traceback", "".join(event.text.decode() for event in proc_output))
