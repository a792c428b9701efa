"""Every board of a HIL run is judged before it serves a test: a health check runs the bundled
reference model on each board of the pool and compares its figures with the baseline.

A board is sick when a figure regressed against the baseline (or, with no baseline entry or when
the baseline is being updated, against the median of the pool: a change every board shares is an
intended one), or when it cannot run the check at all. The first worker that needs a board checks
the whole pool, one thread per board, and writes ``health.json`` into the run's state folder; the
other workers read it. Sick boards are taken out of the run, so none of their figures reaches a
baseline, and the session fails naming them. When no board is healthy none is taken out: the
tests run and say, model by model, what regressed (matrix mode fails a sick board's tests at once).
"""

from __future__ import annotations

import fcntl
import json
import logging
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.hil.baseline import Baseline, Verdict, figure_value, judge
from toolkit.hil.suite import SuiteModel

log = logging.getLogger(__name__)

HEALTH_MODEL = SuiteModel("digits_cnn_int8", "bundled")
HEALTH_NAME = "health.json"


@dataclass
class BoardHealth:
    """The verdict on one board: ``healthy``, ``sick`` or ``unjudged`` (no readable baseline), with
    why, and the figures it gave."""

    port: str
    verdict: str = "healthy"
    reason: str = ""
    board: str = ""
    firmware: str = ""
    simulated: bool | None = None
    figures: dict = field(default_factory=dict)  # figure name: value
    power_cycles: int = 0  # times the check cut and restored its power (it fell silent)

    @property
    def sick(self) -> bool:
        return self.verdict == "sick"


Check = Callable[[str], tuple[dict, tuple]]  # port -> (bench summary, baseline key (kind, firmware, simulated))


def check_pool(ports: list[str], run_check: Check, baseline_for: Callable[[tuple], Baseline],
               pool_consensus: bool) -> dict[str, BoardHealth]:
    """Run the check on every port at once and judge each board; ``pool_consensus``: judge
    regressions against the pool's median (a baseline update is under way)."""
    results: dict[str, BoardHealth] = {}
    summaries: dict[str, tuple[dict, tuple]] = {}

    def one(port: str) -> None:
        health = results[port] = BoardHealth(port)
        try:
            summary, key = run_check(port)
        except ToolkitError as exc:
            health.verdict, health.reason = "sick", f"cannot run the health check: {exc.message}"
            return
        except Exception as exc:  # noqa: BLE001 - a board must never be judged healthy by accident
            health.verdict, health.reason = "sick", f"the health check broke: {type(exc).__name__}: {exc}"
            return
        health.board, health.firmware, health.simulated = key
        health.power_cycles = summary.get("power_cycles", 0)
        summaries[port] = (summary, key)

    with ThreadPoolExecutor(max_workers=max(1, len(ports)), thread_name_prefix="espml-health") as threads:
        list(threads.map(one, ports))
    for port, (summary, key) in summaries.items():
        peers = [s for s, k in summaries.values() if k == key]
        health = results[port]
        try:
            verdicts = _judge(baseline_for(key), summary, peers, pool_consensus)
        except ToolkitError as exc:  # an unreadable baseline: the tests say so, board by board
            health.verdict, health.reason = "unjudged", exc.message
            continue
        health.figures = {v.figure.name: v.value for v in verdicts}
        bad = [v.describe(f"{key[0]} ({port})") for v in verdicts if v.outcome == "regressed"]
        if bad:
            health.verdict, health.reason = "sick", "; ".join(bad)
    return {port: results[port] for port in ports}


def _judge(baseline: Baseline, summary: dict, peers: list[dict], pool_consensus: bool) -> list[Verdict]:
    """Regressed against the baseline, unless the pool agrees (consensus) or there is no entry;
    then regressed against the pool's median."""
    verdicts = []
    for verdict in baseline.check(HEALTH_MODEL.name, summary):
        if verdict.outcome == "new" or (pool_consensus and verdict.outcome == "regressed"):
            median = _pool_median(verdict.figure.name, peers)
            entry = None if median is None or len(peers) < 2 else {"value": median, **verdict.tolerance}
            verdict = judge(verdict.figure, verdict.value, entry)
            if verdict.outcome == "new":
                verdict = Verdict(verdict.figure, verdict.value, None, verdict.tolerance, "ok")
        verdicts.append(verdict)
    return verdicts


def _pool_median(name: str, peers: list[dict]):
    values = [v for v in (figure_value(p, name) for p in peers) if v is not None]
    if not values:
        return None
    if any(isinstance(v, bool) for v in values):
        return sum(values) * 2 > len(values)  # the majority
    return statistics.median(values)


def load_or_check(state_dir: Path, check: Callable[[], dict[str, BoardHealth]]) -> dict[str, BoardHealth]:
    """The run's health verdicts: checked once, by the first process to ask, under a lock."""
    path = state_dir / HEALTH_NAME
    with open(state_dir / "health.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            return read_health(state_dir)
        results = check()
        path.write_text(json.dumps([asdict(h) for h in results.values()], indent=1, default=str))
        return results


def read_health(state_dir: Path) -> dict[str, BoardHealth]:
    path = state_dir / HEALTH_NAME
    if not path.is_file():
        return {}
    return {entry["port"]: BoardHealth(**entry) for entry in json.loads(path.read_text())}


__all__ = ["HEALTH_MODEL", "BoardHealth", "check_pool", "load_or_check", "read_health"]
