"""The board's own INA219/INA226, read by the firmware around each Invoke() and reported in METRICS.

It gives one mean current per inference, not a trace: the bench's rows are its samples. At about
1.8 k conversions/s (INA219) an inference shorter than a few conversions is not resolved, so such a
figure is approximate; the idle baseline is not measured this way (``energy_uj`` is None).
"""

from __future__ import annotations

import numpy as np

from toolkit.power.errors import MeterNotFound, PowerError
from toolkit.power.trace import Trace

CONVERSION_US = 532  # INA219, 12-bit (FACTS.md)
RESOLVED_CONVERSIONS = 10  # an inference this many conversions long is resolved


class InaMeter:
    name = "ina"
    per_inference = True
    simulated = False  # the board's own figure says (METRICS come from a virtual board's model there)

    def __init__(self, arg: str | None) -> None:
        if arg:
            raise PowerError(f"--power ina takes no argument, not {arg!r}", "give --power ina")

    def open(self) -> None:
        """The sensor is the board's: nothing to open on the host."""

    def start(self) -> None:
        """The firmware reads the sensor around each Invoke()."""

    def stop(self) -> None:
        """Nothing runs on the host."""

    def close(self) -> None:
        """Nothing is held on the host."""

    def samples(self) -> Trace:
        raise PowerError("the on-board INA gives a mean current per inference (METRICS), not a trace",
                         "use a PPK2 for a trace")

    def energy(self, rows: list[dict], simulated: bool) -> dict:
        """Energy per inference from each inference's mean current, bus voltage and latency."""
        figures = [r["current_mean_ma"] * r["bus_voltage_v"] * r["latency_us"] / 1000 for r in rows
                   if r.get("current_mean_ma") is not None and r.get("bus_voltage_v")]
        if not figures:
            raise MeterNotFound("the board reported no current: no INA219/INA226 answered on its I2C bus",
                                "wire the sensor (see docs/power.md) or measure with --power ppk2:PORT")
        energy = np.array(figures)
        latency = float(np.median([r["latency_us"] for r in rows]))
        return {"energy_uj": None, "energy_gross_uj": float(np.median(energy)),
                "spread_uj": {"min": float(energy.min()), "p10": float(np.percentile(energy, 10)),
                              "p90": float(np.percentile(energy, 90)), "max": float(energy.max()),
                              "stdev": float(energy.std(ddof=1)) if len(energy) > 1 else 0.0},
                "windows": len(figures), "group": 1, "idle_ma": None, "window_us_median": latency,
                "approximate": latency < RESOLVED_CONVERSIONS * CONVERSION_US, "simulated": simulated,
                "lost_samples": 0, "dropped_windows": {}, "source": "ina", "inferences": len(rows)}
