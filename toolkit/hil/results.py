"""What a HIL run found, test by test, for the report: each pytest-xdist worker writes its own
part, and the controller merges them into ``hil-results.json`` next to the HTML report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.harness.modelled import is_modelled
from toolkit.harness.store import git_commit

RESULTS_NAME = "hil-results.json"


@dataclass
class RunResults:
    started: float = field(default_factory=time.time)
    boards: dict[str, dict] = field(default_factory=dict)  # by port
    tests: list[dict] = field(default_factory=list)

    def board_seen(self, port: str, board: str, firmware: str, simulated: bool) -> None:
        self.boards.setdefault(port, {"port": port, "board": board, "firmware": firmware, "simulated": simulated,
                                      "status": "ok"})

    def add_test(self, record: dict) -> None:
        self.tests.append(record)

    def write_part(self, folder: Path, worker: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        part = {"started": self.started, "boards": list(self.boards.values()), "tests": self.tests}
        (folder / f"hil-part-{worker}.json").write_text(json.dumps(part, default=str))


def merge_parts(folder: Path, taken_out: dict[str, str], health: dict | None = None,
                power_cycles: dict[str, list] | None = None) -> Path:
    """Join the workers' parts into one results file; boards taken out say why, every board
    checked carries its health verdict (``healthy`` or ``sick``) and the figures it gave, and a
    board whose power was cycled says how often and during what."""
    boards: dict[str, dict] = {}
    tests: list[dict] = []
    started = time.time()
    for part_path in sorted(folder.glob("hil-part-*.json")):
        part = json.loads(part_path.read_text())
        started = min(started, part["started"])
        for board in part["boards"]:
            boards.setdefault(board["port"], board)
        tests += part["tests"]
        part_path.unlink()
    for port, verdict in (health or {}).items():
        entry = boards.setdefault(port, {"port": port, "board": verdict.board, "firmware": verdict.firmware,
                                         "simulated": verdict.simulated, "status": "ok"})
        entry.update(verdict=verdict.verdict, health_figures=verdict.figures)
        if verdict.sick:
            entry["verdict_reason"] = verdict.reason
    for port, events in (power_cycles or {}).items():
        entry = boards.setdefault(port, {"port": port})
        entry["power_cycles"] = sum(count for _, count in events)
        entry["power_cycled_during"] = [where for where, _ in events]
    for port, reason in taken_out.items():
        boards.setdefault(port, {"port": port})["status"] = f"taken out: {reason}"
    results = {"git_commit": git_commit(), "started": started, "boards": list(boards.values()),
               "tests": sorted(tests, key=lambda t: t["nodeid"])}
    path = folder / RESULTS_NAME
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return path


def simulated_figure(name: str, board_simulated: bool) -> bool:
    """A test's figure is recorded as simulated when a virtual board modelled it, not when it computed it."""
    return board_simulated and is_modelled(name)


def figure_lines(results: Path) -> list[str]:
    """The terminal's table of the run's figures: one row per test and figure, with its baseline, its verdict
    and, for a virtual board's modelled figures, "simulated" (computed ones, like output equality, are not)."""
    try:
        tests = json.loads(results.read_text()).get("tests", [])
    except (OSError, ValueError):
        return []
    rows = [(t.get("nodeid", "?"), name, fig) for t in tests for name, fig in (t.get("figures") or {}).items()]
    if not rows:
        return []
    width = max(len(name) for _, name, _ in rows)
    lines, test = ["figures (value, baseline, verdict; simulated: a virtual board's model, not a chip):"], None
    for nodeid, name, fig in rows:
        if nodeid != test:
            lines.append(f"  {nodeid}")
            test = nodeid
        unit = f" {fig['unit']}" if fig.get("unit") else ""
        lines.append(f"    {name:<{width}}  {_value(fig.get('value'))}{unit} (baseline {_value(fig.get('baseline'))})"
                     f"  {fig.get('verdict', '')}" + ("  simulated" if fig.get("simulated") else ""))
    return lines


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "none" if value is None else str(value)
