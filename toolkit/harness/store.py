"""The results store: one SQLite file; every inference is committed as it arrives."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from toolkit.errors import ToolkitError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    port TEXT NOT NULL,
    board TEXT,
    firmware TEXT,
    model_sha256 TEXT,
    simulated INTEGER NOT NULL,
    summary TEXT,
    git_commit TEXT,
    model_name TEXT,
    label TEXT,
    planned_n INTEGER,
    inputs_sha256 TEXT,
    plan TEXT
);
CREATE TABLE IF NOT EXISTS inferences (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    cycles INTEGER NOT NULL,
    arena_used_bytes INTEGER,
    heap_free_bytes INTEGER,
    heap_free_min_bytes INTEGER,
    current_mean_ma REAL,
    current_peak_ma REAL,
    output_matches INTEGER NOT NULL,
    predicted INTEGER,
    label INTEGER,
    host_predicted INTEGER,
    bus_voltage_v REAL,
    stack_high_water_bytes INTEGER,
    input_copy_us INTEGER,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS op_profiles (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    op TEXT NOT NULL,
    device_us INTEGER NOT NULL,
    estimated_us REAL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS power (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    meter TEXT NOT NULL,
    summary TEXT NOT NULL,
    details TEXT
);
"""


INFERENCE_COLUMNS = ("idx", "sample", "latency_us", "cycles", "arena_used_bytes", "heap_free_bytes",
                     "heap_free_min_bytes", "current_mean_ma", "current_peak_ma", "output_matches", "predicted",
                     "label", "host_predicted", "bus_voltage_v", "stack_high_water_bytes", "input_copy_us")


class StoreWriteError(ToolkitError):
    """A write to the results store failed (a full disk, say); what it committed before stays."""


class RunBusy(ToolkitError):
    """Another process runs or resumes the run; it is left to that process."""


class ResultsStore:
    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """``read_only``: open an existing store without ever writing to it (SQLite's mode=ro)."""
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._tables: set[str] = set()
        if read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(SCHEMA)
            self._add_missing_columns()
        except (OSError, sqlite3.Error) as exc:
            raise ToolkitError(f"cannot open the results store {self.path}: {exc}",
                               "give a writable path with --db") from None

    def _open_read_only(self) -> None:
        not_a_store = ToolkitError(f"{self.path} is not a results store", "give the --db file that espml bench "
                                   "or the HIL run wrote")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            self._tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self.db.close()
            not_a_store.message += f" ({exc})"
            raise not_a_store from None
        if not {"runs", "inferences"} <= self._tables:
            self.db.close()
            not_a_store.message += " (it has no runs table)" if self._tables else " (it is empty)"
            raise not_a_store

    def _add_missing_columns(self) -> None:
        """Stores written before a column existed gain it (empty for their old runs)."""
        added = {"runs": {"git_commit": "TEXT", "model_name": "TEXT", "label": "TEXT", "planned_n": "INTEGER",
                          "inputs_sha256": "TEXT", "plan": "TEXT"},
                 "inferences": {"host_predicted": "INTEGER", "bus_voltage_v": "REAL", "stack_high_water_bytes": "INTEGER",
                                "input_copy_us": "INTEGER"}}
        for table, columns in added.items():
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.db.commit()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One committed write; on failure nothing half-written stays and earlier commits are kept."""
        try:
            yield
            self.db.commit()
        except sqlite3.IntegrityError as exc:  # a row another writer of the same run stored first
            with contextlib.suppress(sqlite3.Error):
                self.db.rollback()
            raise RunBusy(f"the results store {self.path} already holds that row: the run is being resumed by "
                          "another process", "let that process finish it, or start a new run") from exc
        except sqlite3.OperationalError as exc:  # full disk, I/O error, read-only or locked file
            with contextlib.suppress(sqlite3.Error):
                self.db.rollback()
            raise StoreWriteError(f"cannot write the results store {self.path}: {exc}",
                                  "free space on its disk or give another --db; what it already holds is kept, "
                                  "and espml bench --resume RUN_ID goes on from there") from exc

    def start_run(self, port: str, board: str, firmware: str, model_sha256: str, simulated: bool,
                  model_name: str | None = None, label: str | None = None, planned_n: int | None = None,
                  inputs_sha256: str | None = None, plan: dict | None = None) -> int:
        """``label`` names what the run is for (a HIL test's id, say); the git commit of the
        working directory is recorded when there is one. The new run is claimed (``claim``)."""
        with self._writing():
            cur = self.db.execute(
                "INSERT INTO runs (started, status, port, board, firmware, model_sha256, simulated, git_commit, "
                "model_name, label, planned_n, inputs_sha256, plan) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), port, board, firmware, model_sha256, int(simulated), git_commit(), model_name, label,
                 planned_n, inputs_sha256, json.dumps(plan) if plan is not None else None))
            run_id = int(cur.lastrowid)
        self.claim(run_id)
        return run_id

    def claim(self, run_id: int) -> None:
        """Hold run ``run_id`` for this process until the store is closed: a lock on byte ``run_id``
        of ``STORE.lock`` beside it, which the system drops when the process ends however it ends.
        Another process holding it: RunBusy."""
        try:
            if self._lock_fd is None:
                self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreWriteError(f"cannot lock run {run_id} of the results store {self.path}: {exc.strerror}",
                                  "give a writable path with --db") from None
        try:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, run_id)
        except OSError as exc:  # EAGAIN or EACCES: another process holds it
            raise RunBusy(f"run {run_id} of {self.path} is being run or resumed by another process",
                          "let that process finish it, or start a new run") from exc

    def add_inference(self, run_id: int, row: dict) -> None:
        """One inference, committed at once. Its (run, index) key is unique: an inference retried
        after a fault can never be stored twice."""
        with self._writing():
            columns = [c for c in INFERENCE_COLUMNS if c in row]
            self.db.execute(f"INSERT INTO inferences (run_id, {', '.join(columns)}) "
                            f"VALUES (:run_id, {', '.join(':' + c for c in columns)})", {"run_id": run_id, **row})

    def set_profile(self, run_id: int, ops: list[dict]) -> None:
        """The run's per-op times (``espml bench --profile``), replacing any stored before."""
        with self._writing():
            self.db.execute("DELETE FROM op_profiles WHERE run_id = ?", (run_id,))
            self.db.executemany("INSERT INTO op_profiles (run_id, idx, op, device_us, estimated_us) "
                                "VALUES (:run_id, :index, :op, :device_us, :estimated_us)",
                                [{"run_id": run_id, **op} for op in ops])

    def set_power(self, run_id: int, summary: dict, details: dict | None = None) -> None:
        """The run's energy figures from a power meter (``espml bench --power``) and what the report
        plots (per-window energies, window spans, the trace as min/max pairs)."""
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO power (run_id, meter, summary, details) VALUES (?, ?, ?, ?)",
                            (run_id, summary["meter"], json.dumps(summary), json.dumps(details) if details else None))

    def power(self, run_id: int) -> tuple[dict, dict] | None:
        if self._tables and "power" not in self._tables:  # a read-only store from before power meters
            return None
        row = self.db.execute("SELECT summary, details FROM power WHERE run_id = ?", (run_id,)).fetchone()
        return (json.loads(row[0]), json.loads(row[1]) if row[1] else {}) if row else None

    def profile(self, run_id: int) -> list[dict]:
        if self._tables and "op_profiles" not in self._tables:  # a read-only store from before profiles
            return []
        cur = self.db.execute("SELECT idx AS 'index', op, device_us, estimated_us FROM op_profiles "
                              "WHERE run_id = ? ORDER BY idx", (run_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def reopen_run(self, run_id: int) -> None:
        with self._writing():
            self.db.execute("UPDATE runs SET status = 'running', finished = NULL WHERE id = ?", (run_id,))

    def finish_run(self, run_id: int, status: str, summary: dict | None = None) -> None:
        with self._writing():
            self.db.execute("UPDATE runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                            (time.time(), status, json.dumps(summary) if summary else None, run_id))

    def inferences(self, run_id: int) -> list[dict]:
        cur = self.db.execute("SELECT * FROM inferences WHERE run_id = ? ORDER BY idx", (run_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def run(self, run_id: int) -> dict:
        cur = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        return dict(zip(names, row)) if row else {}

    def runs(self) -> list[dict]:
        cur = self.db.execute("SELECT * FROM runs ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def close(self) -> None:
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases every run this process claimed
            self._lock_fd = None


# git with no program the repository's config names: no fsmonitor, hooks, filters, pager or prompt
_GIT = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.pager=cat",
        "-c", "core.untrackedCache=false", "--no-pager"]


def _git_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"), "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


def _git(folder: str | Path, *args: str) -> subprocess.CompletedProcess:
    filters = subprocess.run([*_GIT, "config", "--get-regexp", r"^filter\."], cwd=folder, capture_output=True,
                             text=True, timeout=10, env=_git_env()).stdout.split()
    off = [f"-c{key}=" for key in filters[::2] if key.endswith((".clean", ".smudge", ".process"))]
    return subprocess.run([*_GIT, *off, *args], cwd=folder, capture_output=True, text=True, timeout=10, env=_git_env())


@lru_cache(maxsize=8)
def git_commit(folder: str | Path = ".") -> str | None:
    """The commit checked out in ``folder`` (with ``+`` when the tree has changes), or None."""
    try:
        head = _git(folder, "rev-parse", "--short=12", "HEAD")
        if head.returncode != 0:
            return None
        dirty = _git(folder, "status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+" if dirty else "")
