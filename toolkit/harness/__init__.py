"""Talking to boards (real or virtual, the harness cannot tell): sessions, bench runs, results."""

from toolkit.harness.bench import BenchInterrupted, BenchPlan, BenchStopped, ensure_model, run_bench
from toolkit.harness.session import DeviceReset, Session
from toolkit.harness.store import ResultsStore

__all__ = ["BenchInterrupted", "BenchPlan", "BenchStopped", "DeviceReset", "ResultsStore", "Session", "ensure_model", "run_bench"]
