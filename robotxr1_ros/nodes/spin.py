"""The `main()` of every robotxr1 node executable: init, spin one node, shut down cleanly."""
from __future__ import annotations

import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from ..errors import Robotxr1Error


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """Spin the node until Ctrl-C or shutdown; a bad configuration (Robotxr1Error) exits with 2."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Robotxr1Error as error:
        print(f"{getattr(make_node, '__name__', 'node')}: error: {error}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
