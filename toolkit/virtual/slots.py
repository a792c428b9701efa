"""Two model slots, A and B, as the firmware keeps them: write the inactive one, verify, activate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SLOT_NAMES = ("A", "B")


@dataclass
class Slot:
    data: bytes = b""
    sha256: bytes = b""
    sequence: int = 0  # 0: empty or never activated

    @property
    def valid(self) -> bool:
        return self.sequence > 0 and hashlib.sha256(self.data).digest() == self.sha256


class ModelSlots:
    def __init__(self, slot_bytes: int) -> None:
        self.slot_bytes = slot_bytes
        self.slots = [Slot(), Slot()]

    @property
    def active_index(self) -> int | None:
        valid = [(slot.sequence, i) for i, slot in enumerate(self.slots) if slot.valid]
        return max(valid)[1] if valid else None

    @property
    def active(self) -> Slot | None:
        index = self.active_index
        return None if index is None else self.slots[index]

    @property
    def inactive_index(self) -> int:
        index = self.active_index
        return 0 if index is None else 1 - index

    def store(self, index: int, data: bytes, sha256: bytes) -> None:
        """Make ``data`` the newest model in slot ``index`` (the caller verified the hash)."""
        sequence = max(slot.sequence for slot in self.slots) + 1
        self.slots[index] = Slot(bytes(data), sha256, sequence)
