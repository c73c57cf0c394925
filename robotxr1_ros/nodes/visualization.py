"""What RViz / Foxglove draw: the track as a MarkerArray and the MPC's predicted horizon as a Path.

Both are in the `map` frame (the sim's map->odom is the identity, and the MPC plans in the frame
of the odometry it is given). Message construction only; the nodes own the publishers.
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ..track.track import Track
from .conversions import quaternion_from_yaw, stamp_from_seconds

MAP_FRAME = "map"
LINE_WIDTH_M = 0.05
RACELINE_STEP_M = 0.1
# Marker namespace -> RGBA; the racing line is drawn from its own table, the others from the centre's.
TRACK_COLOURS = {
    "centre_line": (0.6, 0.6, 0.6, 1.0),
    "left_wall": (0.1, 0.1, 0.1, 1.0),
    "right_wall": (0.1, 0.1, 0.1, 1.0),
    "racing_line": (0.9, 0.2, 0.1, 1.0),
}


def _closed_line(points: np.ndarray) -> list[Point]:
    """A LINE_STRIP's points, back to the first one so the loop closes."""
    return [Point(x=float(x), y=float(y), z=0.0) for x, y in (*points, points[0])]


def track_markers(track: Track, t: float) -> MarkerArray:
    """Centre line, both walls and the racing line as closed LINE_STRIP markers."""
    centre = track.centre
    s_race = np.arange(0.0, track.raceline.length, RACELINE_STEP_M)
    lines = {
        "centre_line": np.column_stack(centre.position(centre.s_table)),
        "left_wall": track.left_wall,
        "right_wall": track.right_wall,
        "racing_line": np.column_stack(track.raceline.position(s_race)),
    }
    markers = []
    for marker_id, (namespace, points) in enumerate(lines.items()):
        r, g, b, a = TRACK_COLOURS[namespace]
        marker = Marker(ns=namespace, id=marker_id, type=Marker.LINE_STRIP, action=Marker.ADD,
                        points=_closed_line(points), color=ColorRGBA(r=r, g=g, b=b, a=a))
        marker.header.frame_id = MAP_FRAME
        marker.header.stamp = stamp_from_seconds(t)
        marker.pose.orientation.w = 1.0
        marker.scale.x = LINE_WIDTH_M
        markers.append(marker)
    return MarkerArray(markers=markers)


def plan_path(track: Track, t: float, predicted_s: np.ndarray, predicted_n: np.ndarray) -> Path:
    """The MPC's predicted horizon (Frenet s, n on the racing line) as poses in the map frame,
    oriented along the racing line (the plan's own heading error is not drawn)."""
    line = track.raceline
    xs, ys = line.to_cartesian(predicted_s, predicted_n)
    headings = line.heading(predicted_s)
    stamp = stamp_from_seconds(t)
    path = Path()
    path.header.frame_id = MAP_FRAME
    path.header.stamp = stamp
    for x, y, heading in zip(np.atleast_1d(xs), np.atleast_1d(ys), np.atleast_1d(headings), strict=True):
        pose = PoseStamped()
        pose.header = path.header
        pose.pose.position.x, pose.pose.position.y = float(x), float(y)
        pose.pose.orientation = quaternion_from_yaw(float(heading))
        path.poses.append(pose)
    return path
