"""2D LiDAR: rays marched on a signed distance field of the track walls.

The field is built once per track: the walls are rasterised onto a grid, scipy's Euclidean
distance transform finds each node's nearest wall cell, and the node's value is then made exact
with the distance to the wall segments around that cell, signed by the segment's side (positive
on the track, negative beyond a wall). A ray advances by the interpolated field value (it cannot
cross a wall in such a step), with a minimum step for grazing rays; a crossing found by a minimum
step is located by linear interpolation of the signed field, so ranges are accurate to ~mm
instead of the grid's resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.ndimage import distance_transform_edt

from ..errors import Robotxr1Error
from ..track import Track

HIT_DISTANCE = 1e-3  # m: a ray this close to a wall has hit it
SEGMENT_WINDOW = 4  # wall segments either side of the nearest wall cell's segment, checked exactly


@dataclass(frozen=True)
class LidarConfig:
    """Beams evenly spaced over the field of view, centred on the car's heading (f1tenth_gym)."""

    num_beams: int = 1080
    fov: float = 4.7  # rad
    range_max: float = 30.0  # m
    noise_std: float = 0.01  # m, Gaussian range noise
    resolution: float = 0.05  # m, distance-field grid
    mount_offset: float = 0.0  # m ahead of the centre of gravity

    def __post_init__(self) -> None:
        if self.num_beams < 2 or not 0.0 < self.fov <= 2.0 * math.pi:
            raise Robotxr1Error("LidarConfig: need at least 2 beams and 0 < fov <= 2 pi")
        if self.range_max <= 0.0 or self.resolution <= 0.0 or self.noise_std < 0.0:
            raise Robotxr1Error("LidarConfig: range_max and resolution must be positive, noise_std >= 0")

    @property
    def angle_min(self) -> float:
        return -0.5 * self.fov

    @property
    def angle_increment(self) -> float:
        return self.fov / (self.num_beams - 1)

    def angles(self) -> np.ndarray:
        """Beam angles relative to the car's heading (rad)."""
        return np.linspace(-0.5 * self.fov, 0.5 * self.fov, self.num_beams)


@dataclass(frozen=True)
class DistanceField:
    """Signed distance to the nearest wall at grid nodes origin + (column, row) * resolution."""

    values: np.ndarray  # (rows, columns) float32: half the memory traffic of the ray march
    origin: tuple[float, float]
    resolution: float


def wall_distance_field(track: Track, resolution: float, margin: float = 0.5) -> DistanceField:
    """The signed distance field of `track`'s two walls on a grid `margin` beyond them."""
    # Walls run along the direction of travel: the track is right of the left wall, left of the right.
    walls = ((track.left_wall, -1.0), (track.right_wall, 1.0))
    starts = np.cumsum([0] + [len(wall) for wall, _ in walls[:-1]])
    seg_a = np.vstack([wall for wall, _ in walls])
    seg_b = np.vstack([np.roll(wall, -1, axis=0) for wall, _ in walls])
    seg_start = np.concatenate([np.full(len(wall), start) for (wall, _), start in zip(walls, starts, strict=True)])
    seg_count = np.concatenate([np.full(len(wall), len(wall)) for wall, _ in walls])
    seg_sign = np.concatenate([np.full(len(wall), sign) for wall, sign in walls])

    origin = seg_a.min(axis=0) - margin
    shape = tuple(np.ceil((seg_a.max(axis=0) + margin - origin) / resolution).astype(int)[::-1] + 1)
    # Rasterise: sample each segment at a quarter cell, mark the nearest node with the segment id.
    samples = np.maximum(2, np.ceil(np.hypot(*(seg_b - seg_a).T) / (0.25 * resolution)).astype(int) + 1)
    seg_of_sample = np.repeat(np.arange(len(seg_a)), samples)
    first = np.repeat(np.cumsum(samples) - samples, samples)
    t = (np.arange(seg_of_sample.size) - first) / (np.repeat(samples, samples) - 1)
    points = seg_a[seg_of_sample] + t[:, None] * (seg_b - seg_a)[seg_of_sample]
    cells = np.rint((points - origin) / resolution).astype(int)
    wall_segment = np.full(shape, -1, dtype=np.int64)
    wall_segment[cells[:, 1], cells[:, 0]] = seg_of_sample
    nearest_rows, nearest_columns = distance_transform_edt(wall_segment < 0, return_distances=False,
                                                           return_indices=True)
    nearest_segment = np.ascontiguousarray(wall_segment[nearest_rows, nearest_columns])
    values = np.empty(shape)
    _exact_signed_distances(nearest_segment, seg_a, seg_b, seg_start, seg_count, seg_sign,
                            origin[0], origin[1], resolution, values)
    return DistanceField(values.astype(np.float32), (float(origin[0]), float(origin[1])), float(resolution))


@njit(cache=True)
def _exact_signed_distances(nearest_segment, seg_a, seg_b, seg_start, seg_count, seg_sign,
                            x0, y0, resolution, out):
    rows, columns = nearest_segment.shape
    for row in range(rows):
        py = y0 + row * resolution
        for column in range(columns):
            px = x0 + column * resolution
            centre = nearest_segment[row, column]
            start = seg_start[centre]
            count = seg_count[centre]
            best = np.inf
            side = 0.0
            for offset in range(-SEGMENT_WINDOW, SEGMENT_WINDOW + 1):
                k = start + (centre - start + offset) % count
                ex = seg_b[k, 0] - seg_a[k, 0]
                ey = seg_b[k, 1] - seg_a[k, 1]
                rx = px - seg_a[k, 0]
                ry = py - seg_a[k, 1]
                t = min(max((rx * ex + ry * ey) / (ex * ex + ey * ey), 0.0), 1.0)
                dx = rx - t * ex
                dy = ry - t * ey
                dist = math.sqrt(dx * dx + dy * dy)
                if dist < best:
                    best = dist
                    cross = ex * ry - ey * rx
                    side = 1.0 if cross * seg_sign[k] > 0.0 else -1.0
            out[row, column] = side * best


@njit(cache=True)
def _field_at(values, x0, y0, inv_resolution, x, y):
    """Bilinear interpolation; +inf outside the grid (beyond every wall: the ray escaped)."""
    gx = (x - x0) * inv_resolution
    gy = (y - y0) * inv_resolution
    if not (0.0 <= gx < values.shape[1] - 1 and 0.0 <= gy < values.shape[0] - 1):
        return np.inf
    column = int(gx)
    row = int(gy)
    fx = gx - column
    fy = gy - row
    bottom = values[row, column] * (1.0 - fx) + values[row, column + 1] * fx
    top = values[row + 1, column] * (1.0 - fx) + values[row + 1, column + 1] * fx
    return bottom * (1.0 - fy) + top * fy


@njit(cache=True)
def _march(values, x0, y0, resolution, px, py, yaw, angles, range_max, out):
    inv_resolution = 1.0 / resolution
    min_step = 0.25 * resolution
    start = _field_at(values, x0, y0, inv_resolution, px, py)
    for k in range(angles.shape[0]):
        if start <= 0.0:  # the sensor is inside a wall
            out[k] = 0.0
            continue
        cx = math.cos(yaw + angles[k])
        cy = math.sin(yaw + angles[k])
        t = 0.0
        field = start
        while True:
            t_next = min(t + max(field, min_step), range_max)
            field_next = _field_at(values, x0, y0, inv_resolution, px + t_next * cx, py + t_next * cy)
            if field_next <= HIT_DISTANCE:
                if field_next < 0.0:  # crossed within a minimum step: locate the zero
                    t_next = t + (t_next - t) * field / (field - field_next)
                out[k] = min(t_next, range_max)
                break
            if t_next >= range_max:
                out[k] = range_max
                break
            if field_next < resolution and field_next < field:
                # Near a wall, sphere tracing only creeps up on an oblique hit: take the secant to the
                # wall (exact for a straight wall) if it is short, and keep it if the field confirms.
                jump = field_next * (t_next - t) / (field - field_next)
                if jump <= resolution:
                    t_hit = t_next + jump
                    field_hit = _field_at(values, x0, y0, inv_resolution, px + t_hit * cx, py + t_hit * cy)
                    if field_hit <= HIT_DISTANCE:
                        if field_hit < -HIT_DISTANCE:  # overshot: the zero lies between the two
                            t_hit = t_next + jump * field_next / (field_next - field_hit)
                        out[k] = min(t_hit, range_max)
                        break
            t = t_next
            field = field_next


class Lidar:
    """A LiDAR on one track: build once (the field takes ~10-50 ms), scan at sensor rate."""

    def __init__(self, track: Track, config: LidarConfig = LidarConfig()) -> None:
        self.config = config
        self.field = wall_distance_field(track, config.resolution)
        self._angles = config.angles()

    def scan(self, x: float, y: float, yaw: float, rng: np.random.Generator | None = None) -> np.ndarray:
        """Ranges (m) of all beams from a car at (x, y, yaw); noisy if `rng` is given."""
        cfg = self.config
        px = x + cfg.mount_offset * math.cos(yaw)
        py = y + cfg.mount_offset * math.sin(yaw)
        ranges = np.empty(cfg.num_beams)
        field = self.field
        _march(field.values, field.origin[0], field.origin[1], field.resolution, float(px), float(py),
               float(yaw), self._angles, float(cfg.range_max), ranges)
        if rng is not None and cfg.noise_std > 0.0:
            ranges += rng.normal(0.0, cfg.noise_std, ranges.shape)
            np.clip(ranges, 0.0, cfg.range_max, out=ranges)
        return ranges
