"""A node's parameter services with a request queue that does not drop requests.

rclpy's ParameterService keeps the last 1000 requests per service (qos_profile_parameters): with
several clients sending asynchronously, older requests are silently dropped and never answered
(measured: 3 clients x 1000 requests to a controller that is solving, 1217 answered). Keeping all
requests makes a flooding client wait instead (reliable delivery with flow control). Create the
node with `start_parameter_services=False` and call `start_parameter_services(node)`.

A client needs a deep queue of its own as well: with rclpy's default client QoS (depth 10), a burst
of requests overwrites its own unsent ones (measured: 476 of 1000 answered); use PARAMETER_QOS.
"""
from __future__ import annotations

import weakref

from rcl_interfaces.srv import (
    DescribeParameters,
    GetParameters,
    GetParameterTypes,
    ListParameters,
    SetParameters,
    SetParametersAtomically,
)
from rclpy.node import Node
from rclpy.parameter_service import ParameterService
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

PARAMETER_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1, reliability=ReliabilityPolicy.RELIABLE)


class QueuedParameterService(ParameterService):
    """rclpy's six parameter services and their callbacks, created with `qos`."""

    def __init__(self, node: Node, qos: QoSProfile = PARAMETER_QOS) -> None:
        # Not super().__init__(): it creates the same services with its fixed QoS.
        self._node_weak_ref = weakref.ref(node)
        name = node.get_name()
        for service_type, suffix, callback in (
            (DescribeParameters, "describe_parameters", self._describe_parameters_callback),
            (GetParameters, "get_parameters", self._get_parameters_callback),
            (GetParameterTypes, "get_parameter_types", self._get_parameter_types_callback),
            (ListParameters, "list_parameters", self._list_parameters_callback),
            (SetParameters, "set_parameters", self._set_parameters_callback),
            (SetParametersAtomically, "set_parameters_atomically", self._set_parameters_atomically_callback),
        ):
            node.create_service(service_type, f"{name}/{suffix}", callback, qos_profile=qos)


def start_parameter_services(node: Node, qos: QoSProfile = PARAMETER_QOS) -> QueuedParameterService:
    """Give `node` (created with start_parameter_services=False) its parameter services."""
    return QueuedParameterService(node, qos)
