"""A refused undeclared parameter is named in the refusal.

rclpy (9.x, Kilted) builds the list of undeclared names as a generator, asks `any()` of it and
then lists what is left of it: the names up to the first undeclared one are consumed, so setting
one unknown parameter (`ros2 param set /robotxr1 typo 1`) was refused with "Invalid access to
undeclared parameter(s): []". The nodes' parameter services and `set_parameters` all go through
the check this mixin replaces; put it before the rclpy node class among the bases.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rclpy.exceptions import ParameterNotDeclaredException
from rclpy.parameter import Parameter

if TYPE_CHECKING:  # a mixin for rclpy nodes: checked as one, a plain class at run time (the MRO is unchanged)
    from rclpy.node import Node as _NodeMixin
else:
    _NodeMixin = object


class NamesUndeclaredParameters(_NodeMixin):
    def _check_undeclared_parameters(self, parameter_list: list[Parameter[Any]]) -> None:
        if not self._allow_undeclared_parameters:
            undeclared = [parameter.name for parameter in parameter_list
                          if isinstance(parameter, Parameter) and not self.has_parameter(parameter.name)]
            if undeclared:
                raise ParameterNotDeclaredException(undeclared)
        super()._check_undeclared_parameters(parameter_list)  # the type check, and rclpy's own
