"""A current trace: what every power meter returns, and its file format (replay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.power.errors import PowerError


@dataclass
class Trace:
    """Samples of one capture. ``time_s`` on the host's monotonic clock, current in mA, voltage in V,
    ``logic`` one byte per sample (bit N is digital input N), ``saturated`` marks samples pinned at the
    top of the meter's range. ``gaps``: (index of the first sample after the gap, samples missing)."""

    time_s: np.ndarray
    current_ma: np.ndarray
    voltage_v: np.ndarray
    logic: np.ndarray
    saturated: np.ndarray
    rate_hz: float
    simulated: bool = False
    source: str = ""
    gaps: list[tuple[int, int]] = field(default_factory=list)

    @property
    def lost_samples(self) -> int:
        return sum(missing for _, missing in self.gaps)

    def __len__(self) -> int:
        return len(self.time_s)

    @classmethod
    def empty(cls, rate_hz: float, simulated: bool = False, source: str = "") -> Trace:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8), np.zeros(0, bool), rate_hz,
                   simulated, source)

    @classmethod
    def concat(cls, parts: list[Trace]) -> Trace:
        """Captures one after the other, their gap indices shifted to the joined trace."""
        if not parts:
            raise ValueError("no traces to join")
        gaps, offset = [], 0
        for part in parts:
            gaps += [(index + offset, missing) for index, missing in part.gaps]
            offset += len(part)
        first = parts[0]
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("time_s", "current_ma", "voltage_v", "logic", "saturated")),
                   first.rate_hz, any(p.simulated for p in parts), first.source, gaps)

    def save(self, path: str | Path) -> None:
        """An .npz file the replay meter reads back."""
        np.savez_compressed(path, time_s=self.time_s, current_ma=self.current_ma, voltage_v=self.voltage_v,
                            logic=self.logic, saturated=self.saturated, rate_hz=self.rate_hz,
                            simulated=self.simulated, source=self.source,
                            gaps=np.array(self.gaps, dtype=np.int64).reshape(-1, 2))

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["time_s"], data["current_ma"], data["voltage_v"], data["logic"].astype(np.uint8),
                           data["saturated"].astype(bool), float(data["rate_hz"]), bool(data["simulated"]),
                           str(data["source"]), [(int(i), int(m)) for i, m in data["gaps"]])
        except FileNotFoundError:
            raise PowerError(f"no trace file {path}", "give a trace saved by espml bench --power ... --trace FILE") from None
        except (OSError, KeyError, ValueError) as exc:
            raise PowerError(f"{path} is not a trace file ({exc})",
                             "give a .npz trace saved by espml bench --power ... --trace FILE") from None
