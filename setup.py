"""ament_python package `robotxr1`: its Python code lives in robotxr1_ros/."""
from glob import glob

from setuptools import find_namespace_packages, setup

PACKAGE = "robotxr1"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_namespace_packages(include=["robotxr1_ros", "robotxr1_ros.*"], exclude=["*.__pycache__"]),
    package_data={"robotxr1_ros": ["data/**/*", "llm/templates/*.txt"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="robotxr1 developers",
    maintainer_email="dev@robotxr1.invalid",
    description="On-board LLM that tunes a Frenet MPC on an F1TENTH car, trained by closed-loop RL.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "robotxr1 = robotxr1_ros.cli:main",
            "mpc_controller = robotxr1_ros.nodes.mpc_controller_node:main",
            "sim = robotxr1_ros.nodes.sim_node:main",
            "robotxr1_llm = robotxr1_ros.nodes.llm_node:main",
        ],
    },
)
