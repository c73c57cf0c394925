"""Two simulated cars in one DDS domain: `ros2 launch robotxr1 sim.launch.py namespace:=car1` and
`namespace:=car2`, each with its own simulator (and clock), controller and LLM node. An
instruction to car1 changes car1's controller only."""
from __future__ import annotations

from launch_harness import QUICK_LLM, CarProbe, config_with, exit_codes, ros2_launch

START_TIMEOUT_S = 120.0  # six processes starting at once on 2 cores
UPDATE_TIMEOUT_S = 120.0
PROCESSES = {"sim", "mpc_controller", "robotxr1_llm"}


def test_two_namespaced_cars_do_not_cross_talk(launch_domain, tmp_path):
    domain_id, context = launch_domain
    config = config_with(tmp_path, robotxr1=QUICK_LLM)
    launches = {name: ros2_launch("sim.launch.py", domain_id, config=str(config), namespace=name)
                for name in ("car1", "car2")}
    cars = {name: CarProbe(context, name) for name in launches}
    car1, car2 = cars["car1"], cars["car2"]
    expected = {f"/{car}/{node}" for car in cars for node in ("sim", "mpc_controller", "robotxr1")}
    try:
        up = car1.wait(lambda: expected <= car1.node_names(), START_TIMEOUT_S)
        moving = all(car.wait(lambda car=car: car.speed() > 1.0, START_TIMEOUT_S) for car in cars.values())
        before = {name: car.probe.latest("status")["params"] for name, car in cars.items()}
        car1.instruct("Drive at 1.5 m/s")
        updated = car1.wait(car1.applied_update, UPDATE_TIMEOUT_S)
        changed = car1.wait(lambda: car1.probe.latest("status")["params"] != before["car1"], 10.0)
        car2.wait(lambda: False, 2.0)  # car2's status keeps coming meanwhile
        car2_after = car2.probe.latest("status")["params"]
        probe = car1.probe.node
        global_topics = {name for name, _ in probe.get_topic_names_and_types()
                         if name.count("/") == 1 and name not in ("/rosout", "/parameter_events")
                         and probe.count_publishers(name)}
    finally:
        for car in cars.values():
            car.close()
        outputs = {name: launched.stop() for name, launched in launches.items()}
    everything = "\n".join(outputs.values())
    assert up and moving, everything
    assert updated and changed, f"{car1.probe.snapshot('update')}\n{outputs['car1']}"
    assert car2.probe.snapshot("update") == [] and car2_after == before["car2"]
    assert global_topics == set(), global_topics  # every topic (odom, clock, tf, ...) is per car
    for output in outputs.values():
        assert exit_codes(output) == dict.fromkeys(PROCESSES, 0), output
