"""The HIL suite across labgrid places (`--espml-place`, repeatable): the controller acquires them
for the run and releases them at its end; a board that falls silent is power-cycled through its
place's power port (labgrid's NetworkPowerDriver, simplerest backend, the sim's relay) and finishes;
a slow board is named."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAST = "realtime=0"


def run_suite(lab, tmp_path: Path, *extra: str, places: list[str] | None = None,
              wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    baselines = tmp_path / "baselines"
    if not baselines.exists():
        shutil.copytree(ROOT / "hil" / "baselines", baselines)
    command = [sys.executable, "-m", "pytest", str(ROOT / "hil"), "-p", "no:cacheprovider", "-q",
               *(f"--espml-place={p}" for p in (places or lab.places)), f"--espml-baseline={baselines}",
               f"--espml-report={tmp_path / 'report'}", "--espml-n=8", "--junitxml=junit.xml", *extra]
    if not wait:
        return subprocess.Popen(command, cwd=tmp_path, env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, preexec_fn=ctrl_c_as_at_a_terminal)
    return subprocess.run(command, cwd=tmp_path, env=lab.env, capture_output=True, text=True, timeout=900)


def ctrl_c_as_at_a_terminal() -> None:
    """A shell's background job (a CI runner's, say) ignores SIGINT, and so would the child: undo that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report" / "hil-results.json").read_text())


def board(found: dict, place: str) -> dict:
    return next(b for b in found["boards"] if b["port"] == f"labgrid://{place}")


def test_the_suite_runs_across_three_places_and_releases_them(make_lab, tmp_path: Path) -> None:
    lab = make_lab([FAST] * 3)
    result = run_suite(lab, tmp_path, "-n", "3")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed, 1 skipped" in result.stdout
    found = results(tmp_path)
    assert sorted(b["port"] for b in found["boards"]) == [f"labgrid://{p}" for p in lab.places]
    assert all(b["verdict"] == "healthy" for b in found["boards"])
    assert {t["port"] for t in found["tests"] if t.get("port")} <= {f"labgrid://{p}" for p in lab.places}
    assert [lab.who(p) for p in lab.places] == ["", "", ""]


def test_a_hung_board_is_power_cycled_and_finishes_and_a_slow_one_is_named(make_lab, tmp_path: Path) -> None:
    lab = make_lab([FAST, f"{FAST}&hang_after=5", f"{FAST}&slow=1.3"])
    result = run_suite(lab, tmp_path, "-n", "3")
    output = result.stdout
    assert result.returncode == 1, output[-4000:]  # the slow board fails the session
    assert "sick board: labgrid://farm-2: " in output and "latency" in output
    assert "power-cycled: labgrid://farm-1 fell silent" in output and "the health check" in output
    found = results(tmp_path)
    hung = board(found, "farm-1")
    assert hung["verdict"] == "healthy" and hung["power_cycles"] >= 1 and "taken out" not in hung.get("status", "")
    assert board(found, "farm-2")["verdict"] == "sick"
    assert "power_cycles" not in board(found, "farm-0")
    assert all(t["outcome"] in ("passed", "skipped") for t in found["tests"]), found["tests"]
    assert [lab.who(p) for p in lab.places] == ["", "", ""]
