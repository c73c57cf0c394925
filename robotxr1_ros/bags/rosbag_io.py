"""rosbag2 files (mcap or sqlite3) through the pure-Python `rosbags` library: no rosbag2 needed.

Writing takes messages already serialised as CDR (what rclpy delivers with `raw=True` and what
`rclpy.serialization.serialize_message` returns); reading deserialises into rosbags' message
objects, which the node conversions read like rclpy messages.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final

import apsw  # rosbags' SQLite
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from ..errors import Robotxr1Error, one_line

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION: Final = 9

# The topics robotxr1 records by default, with their types.
TOPIC_TYPES = {
    "/odom": "nav_msgs/msg/Odometry",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/imu": "sensor_msgs/msg/Imu",
    "/drive": "ackermann_msgs/msg/AckermannDriveStamped",
    "/robotxr1/instruction": "std_msgs/msg/String",
    "/robotxr1/decision": "std_msgs/msg/String",
    "/robotxr1/update": "std_msgs/msg/String",
    "/mpc_controller/status": "std_msgs/msg/String",
}
# What reading a truncated or corrupt bag raises: rosbags' own errors, SQLite's, and whatever
# decoding the bytes it found raised (a length past the end, a string that is not UTF-8).
DAMAGED_BAG_ERRORS = (ReaderError, SerdeError, apsw.Error, OSError, EOFError, struct.error, ValueError, IndexError,
                      KeyError, OverflowError)


def typestore(message_types: Iterable[str] = ()) -> Typestore:
    """ROS 2 Kilted's standard types, plus those of `message_types` from installed packages
    (e.g. ackermann_msgs, found through AMENT_PREFIX_PATH)."""
    store = get_typestore(Stores.ROS2_KILTED)
    missing = {name.split("/")[0] for name in message_types if name not in store.types}
    for package in sorted(missing):
        store.register(_package_types(package))
    return store


def _package_types(package: str) -> dict:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        share = Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise Robotxr1Error(f"message package {package!r} is not installed (source scripts/env.sh?)") from None
    types: dict = {}
    for msg_file in sorted((share / "msg").glob("*.msg")):
        types.update(get_types_from_msg(msg_file.read_text(), f"{package}/msg/{msg_file.stem}"))
    return types


def storage_plugin(storage: str) -> StoragePlugin:
    try:
        return STORAGES[storage]
    except KeyError:
        raise Robotxr1Error(f"unknown bag storage {storage!r}; use one of {sorted(STORAGES)}") from None


class BagWriter:
    """A new bag at `path` (a directory that must not exist yet); a context manager."""

    def __init__(self, path: str | Path, storage: str, topic_types: dict[str, str]) -> None:
        path = Path(path)
        if path.exists():
            raise Robotxr1Error(f"{path} already exists: choose a new bag directory")
        self._store = typestore(topic_types.values())
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=storage_plugin(storage))
        self._writer.open()
        self._connections = {topic: self._writer.add_connection(topic, msgtype, typestore=self._store)
                             for topic, msgtype in topic_types.items()}
        self.counts = dict.fromkeys(topic_types, 0)

    def write(self, topic: str, timestamp_ns: int, cdr: bytes) -> None:
        self._writer.write(self._connections[topic], int(timestamp_ns), bytes(cdr))
        self.counts[topic] += 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_messages(path: str | Path, topics: Iterable[str], types: Mapping[str, str] = TOPIC_TYPES,
                  required: Iterable[str] = ()) -> Iterator[tuple[str, int, object]]:
    """(topic, timestamp ns, message) of the given topics, in time order; topics not in the bag are
    skipped, unless `required`. A topic of `types` must hold that message type. A damaged bag, or
    one that is not what was asked for, raises Robotxr1Error."""
    path = Path(path)
    if not path.is_dir():
        raise Robotxr1Error(f"{path}: not a rosbag2 directory")
    if not (path / "metadata.yaml").is_file():
        raise Robotxr1Error(f"{path}: not a rosbag2 bag (no metadata.yaml in the folder)")
    wanted = set(topics)
    try:
        with Reader(path) as reader:
            connections = [c for c in reader.connections if c.topic in wanted]
            _check_topics(path, {c.topic: c.msgtype for c in reader.connections}, wanted, types, required)
            store = typestore(c.msgtype for c in connections)
            for connection, timestamp, data in reader.messages(connections=connections):
                yield connection.topic, timestamp, store.deserialize_cdr(data, connection.msgtype)
    except Robotxr1Error:
        raise
    except DAMAGED_BAG_ERRORS as error:
        raise Robotxr1Error(f"{path}: the bag is truncated or corrupt ({type(error).__name__}: "
                            f"{one_line(error)})") from None


def _check_topics(path: Path, found: Mapping[str, str], wanted: set[str], types: Mapping[str, str],
                  required: Iterable[str]) -> None:
    """The `required` topics are in the bag (`found`: topic -> type), the wanted ones of `types` with that type."""
    for topic in required:
        if topic not in found:
            raise Robotxr1Error(f"{path}: no {topic} topic in the bag "
                                f"(its topics: {', '.join(sorted(found)) or 'none'})")
    for topic, msgtype in found.items():
        if topic in wanted and topic in types and msgtype != types[topic]:
            raise Robotxr1Error(f"{path}: topic {topic} holds {msgtype} messages, expected {types[topic]}")
