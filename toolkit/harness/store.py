"""The results store: one SQLite file; every inference is committed as it arrives."""

from __future__ import annotations

import json
import sqlite3
import time
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
    summary TEXT
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
    PRIMARY KEY (run_id, idx)
);
"""


class ResultsStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ToolkitError(f"cannot open the results store {self.path}: {exc}",
                               "give a writable path with --db") from None

    def start_run(self, port: str, board: str, firmware: str, model_sha256: str, simulated: bool) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (started, status, port, board, firmware, model_sha256, simulated) "
            "VALUES (?, 'running', ?, ?, ?, ?, ?)",
            (time.time(), port, board, firmware, model_sha256, int(simulated)))
        self.db.commit()
        return int(cur.lastrowid)

    def add_inference(self, run_id: int, row: dict) -> None:
        self.db.execute(
            "INSERT INTO inferences (run_id, idx, sample, latency_us, cycles, arena_used_bytes, heap_free_bytes, "
            "heap_free_min_bytes, current_mean_ma, current_peak_ma, output_matches, predicted, label) "
            "VALUES (:run_id, :idx, :sample, :latency_us, :cycles, :arena_used_bytes, :heap_free_bytes, "
            ":heap_free_min_bytes, :current_mean_ma, :current_peak_ma, :output_matches, :predicted, :label)",
            {"run_id": run_id, **row})
        self.db.commit()

    def finish_run(self, run_id: int, status: str, summary: dict | None = None) -> None:
        self.db.execute("UPDATE runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                        (time.time(), status, json.dumps(summary) if summary else None, run_id))
        self.db.commit()

    def inferences(self, run_id: int) -> list[dict]:
        cur = self.db.execute("SELECT * FROM inferences WHERE run_id = ? ORDER BY idx", (run_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def run(self, run_id: int) -> dict:
        cur = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        return dict(zip(names, row)) if row else {}

    def close(self) -> None:
        self.db.close()
