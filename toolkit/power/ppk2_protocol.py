"""The Nordic PPK2's USB serial protocol: commands, metadata, the 4-byte sample word, calibration.

Nordic's pc-nrfconnect-ppk is the reference (FACTS.md): commands are one opcode byte and their
arguments; GetMetadata answers ``Key: value`` lines ending ``END``; each sample is a little-endian
uint32 (bits 0-13 ADC, 14-16 range, 18-23 a rolling counter, 24-31 digital inputs D0-D7) at a
fixed 100 kS/s; current follows from the metadata's per-range coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GET_METADATA = 0x19
REGULATOR_SET = 0x0D  # + big-endian uint16 millivolts, 800..5000
SET_POWER_MODE = 0x11  # + 1 ampere meter, 2 source meter
DEVICE_RUNNING_SET = 0x0C  # + 0 off, 1 on (the DUT's supply in source mode)
AVERAGE_START = 0x06
AVERAGE_STOP = 0x07
RESET = 0x20
SET_USER_GAINS = 0x25  # + range byte + float32
AMPERE_MODE, SOURCE_MODE = 1, 2
ARGUMENT_BYTES = {REGULATOR_SET: 2, SET_POWER_MODE: 1, DEVICE_RUNNING_SET: 1, SET_USER_GAINS: 5}

RATE_HZ = 100_000
VDD_MIN_MV, VDD_MAX_MV = 800, 5000
ADC_FULL_SCALE = 0x3FFF  # a sample on this code is pinned, not measured
RANGES = 5
COUNTER_MODULO = 64
ADC_VOLTS_PER_CODE = 1.8 / 163840
FAMILIES = ("R", "GS", "GI", "O", "S", "I", "UG")


def regulator_command(millivolts: int) -> bytes:
    if not VDD_MIN_MV <= millivolts <= VDD_MAX_MV:
        raise ValueError(f"the PPK2 supplies {VDD_MIN_MV}-{VDD_MAX_MV} mV, not {millivolts}")
    return bytes([REGULATOR_SET]) + millivolts.to_bytes(2, "big")


@dataclass(frozen=True)
class Calibration:
    """Per-range coefficients from the metadata (index = range 0..4) and the supply setting."""

    R: tuple[float, ...]
    GS: tuple[float, ...]
    GI: tuple[float, ...]
    O: tuple[float, ...]  # noqa: E741 - the metadata's own name
    S: tuple[float, ...]
    I: tuple[float, ...]  # noqa: E741
    UG: tuple[float, ...]
    vdd_mv: int
    simulated: bool = False

    def current_a(self, adc_field: np.ndarray, ranges: np.ndarray, vdd_mv: int | None = None) -> np.ndarray:
        """Amperes from the 14-bit ADC field and the range of each sample."""
        coefficient = {name: np.asarray(getattr(self, name), dtype=np.float64)[ranges] for name in FAMILIES}
        x = (adc_field.astype(np.float64) * 4 - coefficient["O"]) * ADC_VOLTS_PER_CODE / coefficient["R"]
        vdd = (vdd_mv or self.vdd_mv) / 1000
        return coefficient["UG"] * (x * (coefficient["GS"] * x + coefficient["GI"]) + coefficient["S"] * vdd
                                    + coefficient["I"])

    def adc_field(self, current_a: np.ndarray, ranges: np.ndarray, vdd_mv: int | None = None) -> np.ndarray:
        """The inverse (what an instrument would sample), clipped to the 14-bit field; not rounded."""
        c = {name: np.asarray(getattr(self, name), dtype=np.float64)[ranges] for name in FAMILIES}
        vdd = (vdd_mv or self.vdd_mv) / 1000
        rest = c["S"] * vdd + c["I"] - current_a / c["UG"]  # GS x^2 + GI x + rest = 0
        safe_gs = np.where(np.abs(c["GS"]) < 1e-12, 1.0, c["GS"])
        disc = np.sqrt(np.maximum(c["GI"] ** 2 - 4 * c["GS"] * rest, 0.0))
        x = np.where(np.abs(c["GS"]) < 1e-12, -rest / c["GI"], (-c["GI"] + disc) / (2 * safe_gs))
        return np.clip((x * c["R"] / ADC_VOLTS_PER_CODE + c["O"]) / 4, 0, ADC_FULL_SCALE)


class MetadataError(ValueError):
    """The text is not a PPK2's metadata."""


def parse_metadata(text: str) -> Calibration:
    """``Key: value`` lines up to ``END``; every family needs all five ranges."""
    values: dict[str, str] = {}
    for line in text.replace("\r", "").split("\n"):
        line = line.strip()
        if line == "END":
            break
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    else:
        raise MetadataError("no END line")
    try:
        families = {name: tuple(float(values[f"{name}{r}"]) for r in range(RANGES)) for name in FAMILIES}
        vdd = int(float(values.get("VDD", "3000")))
    except KeyError as missing:
        raise MetadataError(f"no {missing.args[0]} coefficient") from None
    except ValueError as bad:
        raise MetadataError(f"a coefficient is not a number: {bad}") from None
    if any(r <= 0 for r in families["R"]):
        raise MetadataError("a range resistor R is not positive")
    return Calibration(**families, vdd_mv=vdd, simulated=values.get("Simulated") == "1")


def format_metadata(cal: Calibration, extra: dict[str, str]) -> bytes:
    """The metadata text a PPK2 sends (for the virtual PPK2)."""
    lines = [f"{name}{r}: {getattr(cal, name)[r]:.6g}" for name in FAMILIES for r in range(RANGES)]
    lines += [f"VDD: {cal.vdd_mv}", *(f"{k}: {v}" for k, v in extra.items()), "END"]
    return ("\n".join(lines) + "\n").encode()


def decode_words(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ADC field, range, counter and logic byte of each whole 4-byte word in ``data``."""
    words = np.frombuffer(data, dtype="<u4", count=len(data) // 4)
    return (words & 0x3FFF).astype(np.int64), ((words >> 14) & 0x7).astype(np.int64), \
        ((words >> 18) & 0x3F).astype(np.int64), (words >> 24).astype(np.uint8)


def encode_words(adc_field: np.ndarray, ranges: np.ndarray, counter: np.ndarray, logic: np.ndarray) -> bytes:
    word = (adc_field.astype(np.uint32) & 0x3FFF) | ((ranges.astype(np.uint32) & 0x7) << 14) \
        | ((counter.astype(np.uint32) & 0x3F) << 18) | (logic.astype(np.uint32) << 24)
    return word.astype("<u4").tobytes()


def counter_gaps(counter: np.ndarray, previous: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Where the rolling counter skips (index of the sample after the gap) and how many samples are
    missing there. A loss of a whole multiple of 64 samples cannot be seen."""
    if not len(counter):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    before = np.concatenate([[counter[0] - 1 if previous is None else previous], counter[:-1]])
    missing = (counter - before - 1) % COUNTER_MODULO
    at = np.flatnonzero(missing)
    return at, missing[at]
