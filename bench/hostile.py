"""Hostile boards and hostile files against the real CLI: tracebacks, memory and hangs.

Every lie of tests/lying_board.py (a fake board on a pty that answers per docs/protocol.md but
lies), every crafted MicroPython probe answer (a fake raw REPL on a pty; two never end), and crafted files (a
recorded preprocessing, flasher_args.json, results stores and HIL results with values out of
range) are each given to `espml` in a child process, served from this one. Per case: exit code,
seconds, the child's peak RSS (its VmHWM, read every 20 ms: ru_maxrss would count this process's RSS
at the fork) and its RSS over time. Each kind of command also runs once on honest input: its peak
RSS is the baseline the hostile cases of that kind are held to.

Goals (issue 19): `tracebacks` 0; `hangs` 0 (every case ends within its time-out); each case's
peak RSS under its kind's honest baseline plus 2x the model's input+output bytes
(`max_rss_over_baseline_mb`, the worst; `over_rss_goal` lists cases more than 2 MB over, the
run-to-run spread of the baseline), and not growing with time (`max_rss_growth_mb`: the RSS of a
case's second half over its first, for cases over 2 s).
The boards are fakes on this host, so no figure here is a board's: they are the host's.

    python bench/hostile.py [--timeout 60] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from lying_board import ENDLESS_ANSWERS, HONEST_PROBE, LIES, PROBE_ANSWERS, LyingBoard, LyingRepl  # noqa: E402
from toolkit.harness.store import ResultsStore  # noqa: E402
from toolkit.image.app_image import build_app  # noqa: E402
from toolkit.model import load_model  # noqa: E402

MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"
INPUTS = ROOT / "fixtures" / "reference" / "heldout_nhwc"
MIB = 1024 * 1024
RSS_SPREAD_MB = 2.0  # the peak RSS of one command on the same input varies by about this much run to run


def bench_argv(port: str, folder: Path, model: Path = MODEL) -> list[str]:
    return ["bench", "--port", port, "--model", str(model), "--inputs", str(INPUTS), "--n", "3",
            "--timeout", "0.3", "--db", str(folder / "r.sqlite")]


def run_case(argv: list[str], timeout: float, cwd: Path) -> dict:
    """Run ``espml ARGV`` in a child; its exit, time, peak RSS, RSS samples and whether it hung."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "toolkit.cli", *argv], cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    os.set_blocking(child.stderr.fileno(), False)
    err, samples, peak, hung = b"", [], 0.0, False
    while True:
        err += child.stderr.read() or b""
        rss, hwm = _memory_mb(child.pid)  # read before reaping: a reaped child has no /proc entry
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, hwm or 0.0)
        samples.append((time.monotonic() - started, rss))
        if time.monotonic() - started > timeout and not hung:
            hung = True
            os.killpg(child.pid, signal.SIGKILL)
        time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)
    err += child.stderr.read() or b""
    child.stderr.close()
    text = err.decode(errors="replace")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("WARNING")]
    seconds = time.monotonic() - started
    return {"exit": child.returncode, "seconds": round(seconds, 2), "hung": hung,
            "traceback": "Traceback" in text, "lines": len(lines), "line": lines[-1][:200] if lines else "",
            "max_rss_mb": round(peak, 1), "rss_growth_mb": _growth(samples, seconds)}


def _memory_mb(pid: int) -> tuple[float | None, float | None]:
    """The child's RSS now and its peak RSS so far (VmRSS, VmHWM), in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    def mb(key: str) -> float | None:
        return int(fields[key].split()[0]) / 1024 if key in fields else None
    return mb("VmRSS"), mb("VmHWM")


def _growth(samples: list[tuple[float, float | None]], seconds: float) -> float | None:
    """The RSS of the second half of a case over its first half (None for cases under 2 s)."""
    if seconds < 2:
        return None
    first = [mb for t, mb in samples if mb is not None and t < seconds / 2]
    second = [mb for t, mb in samples if mb is not None and t >= seconds / 2]
    return round(max(second) - max(first), 1) if first and second else None


# --- crafted files: each makes its folder and returns the argv ----------------------------------------

def _preprocess(spec: dict) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        model = folder / "m.tflite"
        shutil.copyfile(MODEL, model)
        (folder / "m.preprocess.json").write_text(json.dumps({"espml_preprocess": 1, **spec}))
        return bench_argv("vdev://esp32s3?realtime=0", folder, model)
    return make


def _flasher_args(content: object) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        build = folder / "build"
        build.mkdir()
        (folder / "secret.bin").write_bytes(b"secret")
        (build / "a.bin").write_bytes(build_app("espml", "1.0.0"))
        (build / "flasher_args.json").write_text(content if isinstance(content, str) else json.dumps(content))
        return ["flash", "--port", "vdev://esp32s3?realtime=0", "--firmware", str(build)]
    return make


def _store(started: str, results: dict | None = None) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        db = folder / "r.sqlite"
        store = ResultsStore(db)
        run = store.start_run("vdev://esp32s3", "esp32s3", "espml-fw 1", "ab" * 32, True, "m.tflite", None, 1, "x", None)
        store.finish_run(run, "done", {"n": 1, "latency_us": {"median": 1e308, "p90": 1e308}, "simulated": True})
        store.close()
        with contextlib.closing(sqlite3.connect(db)) as con:
            con.execute(f"UPDATE runs SET started = {started}, finished = {started}")
            con.commit()
        argv = ["report", "--db", str(db), "--out", str(folder / "report.html")]
        if results is not None:
            (folder / "hil-results.json").write_text(json.dumps(results))
            argv += ["--results", str(folder / "hil-results.json")]
        return argv
    return make


HUGE_BAND = {"started": 1e20, "tests": [{"nodeid": "hil/t.py::t", "outcome": "passed", "run_id": 1, "model": "m.tflite",
                                         "figures": {"latency_us.median": {"value": 5, "baseline": 1e300,
                                                                           "tolerance": {"rel": 1e307}}}}]}
# kind -> {case: how its folder is made (returns the argv)}; each kind's "honest" case is its baseline
FILES: dict[str, dict[str, Callable[[Path], list[str]]]] = {
    "preprocess": {
        "honest": _preprocess({}),
        "46000x46000 pixels": _preprocess({"size": [46000, 46000]}),
        "scale 1/0": _preprocess({"scale": "1/0"}),
        "scale 1e400, mean NaN": _preprocess({"scale": "1e400", "mean": float("nan")}),
    },
    "flasher_args": {
        "honest": _flasher_args({"flash_files": {"0x10000": "a.bin"}}),
        "../secret.bin": _flasher_args({"flash_files": {"0x10000": "../secret.bin"}}),
        "/etc/hostname": _flasher_args({"flash_files": {"0x10000": "/etc/hostname"}}),
        "not JSON": _flasher_args("{not json"),
        "a list": _flasher_args(["0x0", "a.bin"]),
    },
    "report": {
        "honest": _store("1700000000"),
        "started 1e20": _store("1e20"),
        "started as text": _store("'yesterday'"),
        "rel tolerance 1e307": _store("1700000000", HUGE_BAND),
    },
}
KINDS = ("board", "probe", *FILES)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="espml-hostile-") as folder:
        yield Path(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a case may take before it counts as a hang")
    parser.add_argument("--json", help="write the figures here ('-' for stdout)")
    parser.add_argument("--only", help="comma-separated kinds to run (default all): " + ", ".join(KINDS))
    args = parser.parse_args()
    kinds = set(args.only.split(",")) if args.only else set(KINDS)
    if not kinds <= set(KINDS):
        parser.error(f"--only takes {', '.join(KINDS)}, not {', '.join(sorted(kinds - set(KINDS)))}")

    model = load_model(MODEL)
    io_bytes = sum(t.nbytes for t in model.inputs) + sum(t.nbytes for t in model.outputs)
    cases: dict[str, dict] = {}  # "kind: case" -> what the case did
    for lie in LIES if "board" in kinds else ():
        with _scratch() as folder, LyingBoard(lie, MODEL.read_bytes()) as board:
            cases[f"board: {lie}"] = run_case(bench_argv(board.path, folder), args.timeout, folder)
    probes = [("honest", HONEST_PROBE, None)] + [(n, a, None) for n, a, _ in PROBE_ANSWERS] + \
        [(n, "", stream) for n, stream, _ in ENDLESS_ANSWERS]
    for name, answer, stream in probes if "probe" in kinds else ():
        with _scratch() as folder, LyingRepl(answer.encode(errors="surrogatepass"), stream) as repl:
            cases[f"probe: {name}"] = run_case(["info", "--target", "micropython", "--port", repl.path],
                                               args.timeout, folder)
    for kind, made in FILES.items():
        for name, make in made.items() if kind in kinds else ():
            with _scratch() as folder:
                cases[f"{kind}: {name}"] = run_case(make(folder), args.timeout, folder)

    for key, case in cases.items():
        baseline = cases[key.split(":")[0] + ": honest"]["max_rss_mb"]
        case["rss_over_baseline_mb"] = round(case["max_rss_mb"] - baseline, 1)
    hostile = {k: v for k, v in cases.items() if not k.endswith(": honest")}
    goal = 2 * io_bytes / MIB + RSS_SPREAD_MB
    growths = [c["rss_growth_mb"] for c in hostile.values() if c["rss_growth_mb"] is not None]
    figures = {
        "cases": len(hostile),
        "tracebacks": sum(c["traceback"] for c in hostile.values()),
        "hangs": sum(c["hung"] for c in hostile.values()),
        "honest_cases_failed": sorted(k for k, v in cases.items() if k.endswith(": honest") and v["exit"] != 0),
        "not_one_line": sorted(k for k, v in hostile.items() if v["exit"] != 0 and v["lines"] != 1),
        "max_rss_mb": max(c["max_rss_mb"] for c in hostile.values()),
        "max_rss_over_baseline_mb": max(c["rss_over_baseline_mb"] for c in hostile.values()),
        "max_rss_over_baseline_case": max(hostile, key=lambda k: hostile[k]["rss_over_baseline_mb"]),
        "baseline_rss_mb": {k.split(":")[0]: v["max_rss_mb"] for k, v in cases.items() if k.endswith(": honest")},
        "over_rss_goal": sorted(k for k, v in hostile.items() if v["rss_over_baseline_mb"] > goal),
        "max_rss_growth_mb": max(growths) if growths else None,
        "model_io_bytes": io_bytes,
        "timeout_s": args.timeout,
        "simulated": False,  # the host's own figures; the boards are fakes on this host
        "per_case": cases,
    }
    text = json.dumps(figures, indent=2)
    if args.json == "-":
        print(text)
    else:
        if args.json:
            Path(args.json).write_text(text + "\n")
        for key in ("cases", "tracebacks", "hangs", "honest_cases_failed", "not_one_line", "max_rss_mb",
                    "max_rss_over_baseline_mb", "max_rss_over_baseline_case", "baseline_rss_mb", "over_rss_goal",
                    "max_rss_growth_mb"):
            print(f"{key}: {figures[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
