"""Baselines: the figures a board kind and firmware version reached, each with its tolerance.

One JSON file per board kind, firmware version and kind of figure (simulated or measured), so a
diff shows what changed; simulated and measured figures never meet. A figure outside its
tolerance in the bad direction is a regression; in the good direction, an improvement (reported,
and written by ``--espml-update-baseline``). Energy from a meter on the supply (``--espml-power``)
is judged by its median over windows and recorded with its spread; a meter's simulated figures
(the virtual PPK2) are never judged against a measured baseline, nor measured ones against a
simulated baseline.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError


@dataclass(frozen=True)
class Figure:
    """How one figure of a bench summary is judged."""

    name: str  # dotted path into the summary, e.g. "latency_us.median"
    unit: str
    lower_is_better: bool | None  # None: must be equal
    tolerance: dict  # {"rel": f} | {"abs": x} | {"exact": True}
    spread: str | None = None  # dotted path of the figure's spread over windows, recorded beside it


FIGURES = (
    Figure("outputs_match_reference", "", None, {"exact": True}),
    Figure("accuracy", "", False, {"abs": 0.01}),
    Figure("latency_us.median", "us", True, {"rel": 0.10}),
    Figure("latency_us.p90", "us", True, {"rel": 0.10}),
    Figure("arena_used_bytes", "B", True, {"abs": 256}),
    Figure("heap_free_min_bytes", "B", False, {"abs": 1024}),
    Figure("stack_high_water_bytes", "B", False, {"abs": 256}),
    Figure("current_ma.mean", "mA", True, {"rel": 0.10}),
    Figure("energy_uj_per_inference", "uJ", True, {"rel": 0.10}),
    Figure("power.energy_uj", "uJ", True, {"rel": 0.10}, spread="power.spread_uj"),  # a meter's, above idle
)


class BaselineError(ToolkitError):
    exit_code = 2


@dataclass(frozen=True)
class Verdict:
    figure: Figure
    value: float | bool
    baseline: float | bool | None
    tolerance: dict
    outcome: str  # "ok", "regressed", "improved", "new"
    spread: dict | None = None  # the figure's spread over windows (min, p10, p90, max, stdev), when it has one

    @property
    def change_pct(self) -> float | None:
        if isinstance(self.value, bool) or self.baseline in (None, 0) or isinstance(self.baseline, bool):
            return None
        return (self.value - self.baseline) / abs(self.baseline) * 100

    def describe(self, where: str) -> str:
        """``latency_us.median regressed on esp32s3 (vdev://...): 1200 -> 1440 us (+20.0%, tolerance 10%)``"""
        unit = f" {self.figure.unit}" if self.figure.unit else ""
        change = f"{self.change_pct:+.1f}%, " if self.change_pct is not None else ""
        return (f"{self.figure.name} {self.outcome} on {where}: {_fmt(self.baseline)} -> {_fmt(self.value)}{unit} "
                f"({change}tolerance {_tolerance_text(self.tolerance)})")

    def as_dict(self) -> dict:
        spread = {"spread": self.spread} if self.spread is not None else {}
        return {"value": self.value, "baseline": self.baseline, "tolerance": self.tolerance, "verdict": self.outcome,
                "unit": self.figure.unit, "change_pct": self.change_pct, **spread}


def _fmt(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _tolerance_text(tolerance: dict) -> str:
    if "rel" in tolerance:
        return f"{tolerance['rel'] * 100:g}%"
    if "abs" in tolerance:
        return f"{tolerance['abs']:g}"
    return "exact"


def figure_value(summary: dict, name: str):
    """The figure at a dotted path of a bench summary, or None when the run has none (no sensor)."""
    value = summary
    for part in name.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def judge(figure: Figure, value, entry: dict | None) -> Verdict:
    """Compare one figure with its baseline entry ({"value": ..., tolerance keys})."""
    if entry is None:
        return Verdict(figure, value, None, figure.tolerance, "new")
    tolerance = {k: entry[k] for k in ("rel", "abs", "exact") if k in entry} or figure.tolerance
    base = entry["value"]
    if "exact" in tolerance or figure.lower_is_better is None:
        return Verdict(figure, value, base, tolerance, "ok" if value == base else "regressed")
    margin = abs(base) * tolerance["rel"] if "rel" in tolerance else tolerance["abs"]
    worse = value - base if figure.lower_is_better else base - value
    outcome = "regressed" if worse > margin else "improved" if -worse > margin else "ok"
    return Verdict(figure, value, base, tolerance, outcome)


def baseline_name(board: str, firmware: str, simulated: bool) -> str:
    """``esp32s3-espml-fw-0.1.0-simulated.json``: one file per board kind, firmware and figure kind."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{board}-{firmware}").strip("-")
    return f"{slug}-{'simulated' if simulated else 'measured'}.json"


class Baseline:
    """One baseline file: {"board", "firmware", "simulated", "models": {model: {figure: entry}}}."""

    def __init__(self, path: Path, board: str, firmware: str, simulated: bool) -> None:
        self.path = path
        self.board, self.firmware, self.simulated = board, firmware, simulated
        self.models: dict[str, dict[str, dict]] = {}
        self._updates: dict[str, dict[str, dict]] = {}
        if path.is_file():
            self.models = self._load()

    @classmethod
    def for_board(cls, location: Path, board: str, firmware: str, simulated: bool) -> Baseline:
        """``location`` is a folder of baselines (the file is named after the board) or one file."""
        path = location / baseline_name(board, firmware, simulated) if location.is_dir() or not location.suffix \
            else location
        return cls(path, board, firmware, simulated)

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise BaselineError(f"cannot read the baseline {self.path}: {exc}", "fix or delete the file") from None
        if bool(data.get("simulated")) != self.simulated:
            kind = "simulated" if data.get("simulated") else "measured"
            raise BaselineError(f"{self.path} holds {kind} figures; this board's are "
                                f"{'simulated' if self.simulated else 'measured'}, and the two are never compared",
                                "give --espml-baseline a folder, or a file of the right kind")
        return data.get("models", {})

    def check(self, model: str, summary: dict) -> list[Verdict]:
        power = summary.get("power")
        if power is not None and bool(power.get("simulated")) != self.simulated:
            kind = "simulated" if power.get("simulated") else "measured"
            raise BaselineError(f"{power.get('meter')} gave {kind} energy figures; {self.path.name} holds "
                                f"{'simulated' if self.simulated else 'measured'} ones, and the two are never compared",
                                "measure a real board with a real meter, a virtual board with the virtual PPK2")
        entries = self.models.get(model, {})
        verdicts = []
        for figure in FIGURES:
            value = figure_value(summary, figure.name)
            if value is not None:
                verdict = judge(figure, value, entries.get(figure.name))
                spread = figure_value(summary, figure.spread) if figure.spread else None
                verdicts.append(dataclasses.replace(verdict, spread=spread) if spread is not None else verdict)
        return verdicts

    def record(self, model: str, verdicts: list[Verdict], regressions_too: bool = False) -> None:
        """Write new and improved figures (and, when asked, regressed ones: an intended change)."""
        for verdict in verdicts:
            if verdict.outcome in ("new", "improved") or (regressions_too and verdict.outcome == "regressed"):
                entry = {"value": verdict.value, **verdict.tolerance,
                         **({"spread": verdict.spread} if verdict.spread is not None else {})}
                self._updates.setdefault(model, {})[verdict.figure.name] = entry
                self.models.setdefault(model, {})[verdict.figure.name] = entry

    def save(self) -> None:
        """Merge this process's updates into the file under a lock (pytest-xdist workers share it)."""
        if not self._updates:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            models = self._load() if self.path.is_file() else {}
            for model, entries in self._updates.items():
                models.setdefault(model, {}).update(entries)
            data = {"board": self.board, "firmware": self.firmware, "simulated": self.simulated,
                    "models": {m: dict(sorted(f.items())) for m, f in sorted(models.items())}}
            self.path.write_text(json.dumps(data, indent=2) + "\n")
        self.path.with_suffix(".lock").unlink(missing_ok=True)
        self._updates.clear()
