"""Which figures of a bench summary a virtual board models, and so are simulated when it made them.

A virtual board runs the model through TFLite-Micro itself: its outputs (and so output equality and
accuracy) and its tensor arena are computed as on a chip. Its latency and cycles (the board's cost
model), heap and stack figures (the board's constants), current and energy (the current model, and any
meter fed from it) are modelled. Only those are marked simulated, in JSON, the terminal and the report.
"""

from __future__ import annotations

MODELLED = ("latency_us", "cycles_median", "input_copy_us", "heap_free_min_bytes", "stack_high_water_bytes",
            "current_ma", "energy_uj_per_inference", "power")


def is_modelled(name: str) -> bool:
    """``name``: a summary figure by dotted path (``latency_us.median``) or a top-level key."""
    return name.split(".", 1)[0] in MODELLED


def simulated_figures(summary: dict) -> list[str]:
    """The summary's top-level figures that are simulated: the modelled ones present, on a virtual board."""
    if not summary.get("simulated"):
        return []
    return [name for name in MODELLED if summary.get(name) is not None]
