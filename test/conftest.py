"""Shared pytest fixtures and markers. Fixtures defined in helper modules are imported here so
pytest finds them."""
import pytest
from launch_harness import launch_domain  # noqa: F401  (fixture)
from model_files import TINY_ARCHITECTURES
from ros_fixtures import ros_context  # noqa: F401  (fixture)

# Test modules that run the real bundled model throughout (besides tests marked slow_model).
REAL_MODEL_MODULE_SUFFIX = "_real_model.py"
DDS_FIXTURES = {"ros_context", "launch_domain"}
# A DDS test gets one more run only when its pytest-xdist worker died under it: a hang in rclpy /
# Fast DDS C code (ended by pytest-timeout's thread method) or a crash. pytest-rerunfailures
# reschedules a crashed test without looking at `only_rerun`; every failure that is an exception
# (an assertion, a timeout inside our own waits) must match this pattern, which none can, so it
# is never retried. Reruns show as "R" and in the summary.
DDS_RERUN = pytest.mark.flaky(reruns=1, only_rerun=["^worker crash only$"])


def pytest_collection_modifyitems(items) -> None:
    """`dds` on every test that takes a ROS context or domain, `slow_model` on the real-model modules, so
    `make test-fast` (-m "not slow_model and not dds") needs no per-test bookkeeping."""
    for item in items:
        if DDS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.dds)
            item.add_marker(DDS_RERUN)
        if item.path.name.endswith(REAL_MODEL_MODULE_SUFFIX):
            item.add_marker(pytest.mark.slow_model)


@pytest.fixture(scope="session")
def chatml_tokenizer(tmp_path_factory):
    """SmolLM2's tokenizer with ChatML, as a Hugging Face folder (model_files.chatml_tokenizer_dir)."""
    from model_files import built_once, chatml_tokenizer_dir

    return built_once(tmp_path_factory, "chatml-tokenizer", chatml_tokenizer_dir)


@pytest.fixture(scope="session", params=TINY_ARCHITECTURES)
def tiny_model(request, tmp_path_factory, chatml_tokenizer):
    """A tiny GGUF of each architecture of model_files.TINY_ARCHITECTURES, built once per test run."""
    from model_files import TinyModel, built_once, tiny_gguf

    architecture = request.param
    folder = built_once(tmp_path_factory, f"tiny-{architecture}",
                        lambda into: tiny_gguf(TinyModel(architecture, into), chatml_tokenizer))
    return TinyModel(architecture, folder)
