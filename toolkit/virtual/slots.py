"""The two model slots, A and B, in flash: write the inactive one, verify, activate by sequence."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.image.model_image import SECTOR, build_image, verify_slot
from toolkit.image.partitions import MODEL_SLOTS, Partition
from toolkit.model import load_model
from toolkit.virtual.flash import FlashMemory

SLOT_NAMES = ("A", "B")


@dataclass(frozen=True)
class Slot:
    data: bytes  # the TFLite bytes
    sha256: bytes
    sequence: int


class ModelSlots:
    def __init__(self, flash: FlashMemory, partitions: dict[str, Partition], slot_bytes: int | None = None) -> None:
        self.flash = flash
        self.partitions = [partitions[name] for name in MODEL_SLOTS]
        self.slot_bytes = min(slot_bytes or self.partitions[0].size, *(p.size for p in self.partitions))

    def read(self, index: int) -> Slot | None:
        """The verified model in slot ``index``, or None when it is blank or damaged."""
        partition = self.partitions[index]
        found = verify_slot(self.flash.read(partition.offset, min(partition.size, self.slot_bytes)))
        if found is None:
            return None
        header, payload = found
        return Slot(payload, header.payload_sha256, header.sequence)

    @property
    def slots(self) -> list[Slot | None]:
        return [self.read(i) for i in range(len(self.partitions))]

    @property
    def active_index(self) -> int | None:
        valid = [(slot.sequence, i) for i, slot in enumerate(self.slots) if slot is not None]
        return max(valid)[1] if valid else None

    @property
    def active(self) -> Slot | None:
        index = self.active_index
        return None if index is None else self.read(index)

    @property
    def inactive_index(self) -> int:
        index = self.active_index
        return 0 if index is None else 1 - index

    def next_sequence(self) -> int:
        return max((slot.sequence for slot in self.slots if slot is not None), default=0) + 1

    def store(self, index: int, data: bytes) -> None:
        """Write ``data`` as the newest model image into slot ``index`` (may raise PowerCut)."""
        image = build_image(load_model(data), self.next_sequence())
        partition = self.partitions[index]
        self.flash.erase(partition.offset, len(image))
        self.flash.program(partition.offset + SECTOR, image[SECTOR:])  # data first,
        self.flash.program(partition.offset, image[:SECTOR])  # then the header that makes it count

    def invalidate(self, index: int) -> None:
        """Erase the first sector of a slot (its header), so the other slot takes over again."""
        self.flash.erase(self.partitions[index].offset, SECTOR)
