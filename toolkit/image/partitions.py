"""ESP-IDF partition tables: the CSV the firmware is built with, and the binary form on flash."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from toolkit.errors import ToolkitError

TABLE_OFFSET = 0x8000
TABLE_SIZE = 0xC00
_ENTRY = struct.Struct("<2sBBII16sI")
_MAGIC = b"\xaa\x50"
_MD5_MAGIC = b"\xeb\xeb"
TYPES = {"app": 0x00, "data": 0x01}
SUBTYPES = {
    "app": {"factory": 0x00, "test": 0x20, **{f"ota_{i}": 0x10 + i for i in range(16)}},
    "data": {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04, "efuse": 0x05,
             "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82, "littlefs": 0x83},
}
MODEL_SLOTS = ("model_a", "model_b")
MODEL_SUBTYPE = 0x40  # the firmware finds its slots as data partitions of this subtype, by name
ALIGNMENT = 0x1000  # ESP-IDF aligns data partitions to the 4 KiB flash sector


class PartitionError(ToolkitError):
    pass


@dataclass(frozen=True)
class Partition:
    name: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int = 0


def _number(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1024, "m": 1024 * 1024}.get(text[-1:], 1)
    return int(text[:-1] if scale > 1 else text, 0) * scale


def parse_csv(text: str) -> list[Partition]:
    partitions = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5:
            raise PartitionError(f"partition table line {number} has {len(fields)} fields, needs 5",
                                 "use ESP-IDF's CSV format: Name, Type, SubType, Offset, Size, Flags")
        name, kind, subtype, offset, size = fields[:5]
        try:
            type_code = TYPES[kind] if kind in TYPES else int(kind, 0)
            sub_code = SUBTYPES.get(kind, {}).get(subtype)
            sub_code = int(subtype, 0) if sub_code is None else sub_code
            partitions.append(Partition(name, type_code, sub_code, _number(offset), _number(size)))
        except (KeyError, ValueError):
            raise PartitionError(f"partition table line {number} cannot be read: {line}",
                                 "check the type, subtype, offset and size") from None
    return partitions


def load_csv(path: str | Path | None = None) -> list[Partition]:
    """The firmware's partition table (device/partitions.csv unless another is given)."""
    if path is None:
        return parse_csv(resources.files("toolkit.image").joinpath("partitions.csv").read_text())
    try:
        return parse_csv(Path(path).read_text())
    except OSError as exc:
        raise PartitionError(f"cannot read partition table {path}: {exc.strerror}", "check the path") from None


def to_binary(partitions: list[Partition]) -> bytes:
    body = b"".join(_ENTRY.pack(_MAGIC, p.type, p.subtype, p.offset, p.size, p.name.encode()[:16], p.flags)
                    for p in partitions)
    md5 = _MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()
    return (body + md5).ljust(TABLE_SIZE, b"\xff")


def from_binary(data: bytes) -> list[Partition]:
    """Partitions from a binary table (as read back from a board); checks its MD5 entry."""
    partitions, position = [], 0
    while position + _ENTRY.size <= len(data):
        entry = data[position:position + _ENTRY.size]
        if entry[:2] == _MD5_MAGIC:
            if hashlib.md5(data[:position]).digest() != entry[16:32]:
                raise PartitionError("the partition table's MD5 does not match", "flash the partition table again")
            return partitions
        if entry[:2] != _MAGIC:
            break
        _, kind, subtype, offset, size, name, flags = _ENTRY.unpack(entry)
        partitions.append(Partition(name.rstrip(b"\x00").decode(errors="replace"), kind, subtype, offset, size, flags))
        position += _ENTRY.size
    if not partitions:
        raise PartitionError("no partition table found", "flash the firmware with its partition table")
    return partitions


def find(partitions: list[Partition], name: str) -> Partition:
    for partition in partitions:
        if partition.name == name:
            return partition
    raise PartitionError(f"the partition table has no '{name}' partition",
                         "flash firmware built with device/partitions.csv")


def app_partition(partitions: list[Partition]) -> Partition:
    for partition in partitions:
        if partition.type == TYPES["app"]:
            return partition
    raise PartitionError("the partition table has no app partition", "flash firmware built with device/partitions.csv")


def model_slots(partitions: list[Partition], flash_bytes: int) -> tuple[Partition, ...]:
    """The two model slots of a table, checked as the firmware will find them (data partitions of
    subtype 0x40, named model_a and model_b), sector-aligned, inside the flash and clear of the
    partition table and of every other partition."""
    slots = []
    for name in MODEL_SLOTS:
        found = [p for p in partitions if p.name == name]
        if len(found) != 1:
            raise PartitionError(f"the partition table has {'no' if not found else len(found)} '{name}' partition"
                                 f"{'' if not found else 's'}", "flash firmware built with device/partitions.csv")
        slot = found[0]
        where = f"partition '{name}' at 0x{slot.offset:x} ({slot.size:,} bytes)"
        if slot.type != TYPES["data"] or slot.subtype != MODEL_SUBTYPE:
            raise PartitionError(f"{where} is type 0x{slot.type:02x} subtype 0x{slot.subtype:02x}, not a model slot "
                                 f"(data, 0x{MODEL_SUBTYPE:02x})", "flash firmware built with device/partitions.csv")
        if slot.size < ALIGNMENT or slot.offset % ALIGNMENT or slot.size % ALIGNMENT:
            raise PartitionError(f"{where} is not aligned to 4 KiB flash sectors",
                                 "flash firmware built with device/partitions.csv")
        end = slot.offset + slot.size
        if slot.offset < TABLE_OFFSET + TABLE_SIZE or end > flash_bytes:
            raise PartitionError(f"{where} lies outside the flash after the partition table "
                                 f"(0x{TABLE_OFFSET + TABLE_SIZE:x}..0x{flash_bytes:x})",
                                 "flash firmware built with device/partitions.csv")
        other = next((p for p in partitions if p is not slot and p.offset < end and slot.offset < p.offset + p.size),
                     None)
        if other is not None:
            raise PartitionError(f"{where} overlaps partition '{other.name}' at 0x{other.offset:x}",
                                 "flash firmware built with device/partitions.csv")
        slots.append(slot)
    return tuple(slots)
