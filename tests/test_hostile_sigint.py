"""Ctrl-C during a bench run (issue 19 item 15), sent as a real SIGINT to a real ``espml bench``
process on the virtual board: the run is marked interrupted, one line names the run and the exact
``--resume`` command, nothing recorded is lost, and that command completes the run."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURES, REFERENCE_MODEL

ROOT = Path(__file__).resolve().parents[1]
N = 150  # about 10 ms each on the virtual board in real time: the run lasts long enough to be stopped


def _rows(db: Path) -> tuple[int, str | None]:
    """How many inferences the store holds, and the run's status, read without writing."""
    if not db.exists():
        return 0, None
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
        try:
            count = con.execute("SELECT COUNT(*) FROM inferences WHERE run_id = 1").fetchone()[0]
            status = con.execute("SELECT status FROM runs WHERE id = 1").fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0, None
    return count, status[0] if status else None


def _espml(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "toolkit.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_at_a_terminal)


def _ctrl_c_as_at_a_terminal() -> None:
    """A shell's background job (a CI runner's, say) ignores SIGINT, and so would the child: undo that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_marks_the_run_interrupted_and_names_the_resume_command(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    argv = ["bench", "--port", "vdev://esp32s3", "--model", str(REFERENCE_MODEL),
            "--inputs", str(FIXTURES / "reference" / "heldout_nhwc"), "--n", str(N), "--db", str(db)]
    process = _espml(argv, tmp_path)
    deadline = time.monotonic() + 60
    while _rows(db)[0] < 5:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("WARNING")]
    assert process.returncode == 130, err
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    kept = re.search(r"interrupted after (\d+) of 150 inferences .*the \1 results so far are kept in .* \(run 1\)",
                     line)
    assert kept, line
    stored, status = _rows(db)
    assert status == "interrupted" and stored == int(kept.group(1)) < N, (status, stored, line)

    resume = re.search(r"go on with: (espml .*--resume 1)\)$", line)
    assert resume, line
    command = shlex.split(resume.group(1))
    assert command[1:-2] == argv  # the exact command that was run, with --resume RUN_ID
    finish = _espml(command[1:] + ["--json", "-"], tmp_path)
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    assert _rows(db) == (N, "done")
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        indices = [r[0] for r in con.execute("SELECT idx FROM inferences WHERE run_id = 1 ORDER BY idx")]
    assert indices == list(range(N))  # none lost, none twice
