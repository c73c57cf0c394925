"""Shared pytest fixtures. Fixtures defined in helper modules are imported here so pytest finds them."""
from ros_fixtures import ros_context  # noqa: F401  (fixture)
