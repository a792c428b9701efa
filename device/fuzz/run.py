"""Fuzz the firmware's C core and the host's parsers for a while, and say what was found.

    python device/fuzz/run.py --seconds 600              every target, 600 s each
    python device/fuzz/run.py --seconds 60 --only tflite,device --json fuzz.json

Steps: build the replay driver (cc, AddressSanitizer + UndefinedBehaviorSanitizer) and, when
clang is installed, the libFuzzer targets; write the seed corpora (corpus.py); replay every C
target over the seeds, the committed regression inputs (corpus/<target>/) and what earlier runs
grew (WORK/grown/<target>/); then fuzz each C target with libFuzzer and each Python target with
atheris (or, without atheris, a seeded mutation loop with no coverage guidance) for --seconds.
New coverage accumulates in WORK/grown; a failing input is saved in WORK/crashes and named in
the summary: make it a regression input (copy it to corpus/<target>/<what it is>, add the
expectation in tests/test_fuzz.py) and fix the code.

Exit status: 0 when nothing failed, 1 when a target crashed or broke an invariant.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY_FUZZ = ROOT / "tests" / "fuzz"  # the Python targets (host_targets.py) live beside the tests
sys.path[:0] = [str(HERE), str(PY_FUZZ)]

import corpus  # noqa: E402

MAX_LEN = 16384  # inputs longer than this are cut: every target's interesting part is the first few KB
DONE = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+ .*?exec/s: (\d+)")
PULSE = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+ .*?exec/s: (\d+)")


def have_clang() -> bool:
    return shutil.which(os.environ.get("CLANG", "clang")) is not None


def build(work: Path, fuzzers: bool) -> None:
    goals = ["replay"] + (["fuzzers"] if fuzzers else [])
    result = subprocess.run(["make", "-s", "-C", str(HERE), f"BUILD={work / 'build'}", "-j", str(os.cpu_count() or 2),
                             *goals], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"building the fuzz targets failed:\n{result.stdout}{result.stderr}")


def corpus_dirs(work: Path, target: str, python: bool = False) -> list[Path]:
    grown = work / ("grown-py" if python else "grown") / target
    grown.mkdir(parents=True, exist_ok=True)
    dirs = [grown, work / "seeds" / target, corpus.regression_dir(target)]
    return [d for d in dirs if d.is_dir()]


def replay(work: Path, target: str) -> dict:
    started = time.perf_counter()
    folders = corpus_dirs(work, target)
    result = subprocess.run([str(work / "build" / f"replay_{target}"), *map(str, folders)], capture_output=True,
                            text=True, env=dict(os.environ, REPLAY_VERBOSE="1"))
    inputs = re.search(r"replayed (\d+) inputs", result.stdout)
    last = [line for line in result.stderr.splitlines() if line.startswith("replay: ")]
    return {"engine": "replay", "target": target, "inputs": int(inputs.group(1)) if inputs else None,
            "seconds": round(time.perf_counter() - started, 2), "ok": result.returncode == 0,
            "failing_input": last[-1][8:] if result.returncode != 0 and last else None,
            "output": "" if result.returncode == 0 else result.stderr[-3000:]}


def _libfuzzer_figures(text: str) -> dict:
    done = DONE.findall(text) or PULSE.findall(text)
    if not done:
        return {}
    runs, cov, ft, corp, speed = map(int, done[-1])
    return {"executions": runs, "coverage": cov, "features": ft, "corpus": corp, "exec_per_s": speed}


def _crash(crashes: Path, before: set[Path]) -> str | None:
    new = sorted(set(crashes.iterdir()) - before)
    return str(new[0]) if new else None


def libfuzzer(work: Path, target: str, seconds: float, seed: int) -> dict:
    crashes = work / "crashes"
    crashes.mkdir(exist_ok=True)
    before = set(crashes.iterdir())
    started = time.perf_counter()
    command = [str(work / "build" / f"fuzz_{target}"), f"-max_total_time={int(seconds)}", f"-seed={seed}",
               f"-max_len={MAX_LEN}", "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
               f"-artifact_prefix={crashes}/{target}-", *map(str, corpus_dirs(work, target))]
    result = subprocess.run(command, capture_output=True, text=True)
    crash = _crash(crashes, before)
    return {"engine": "libFuzzer", "target": target, "seconds": round(time.perf_counter() - started, 1),
            "ok": result.returncode == 0 and crash is None, "crash": crash, **_libfuzzer_figures(result.stderr),
            "output": "" if result.returncode == 0 else result.stderr[-3000:]}


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def atheris_run(work: Path, target: str, seconds: float, seed: int, keep_going: bool = False) -> dict:
    crashes = work / "crashes"
    crashes.mkdir(exist_ok=True)
    before = set(crashes.iterdir())
    started = time.perf_counter()
    command = [sys.executable, str(PY_FUZZ / "host_targets.py"), target, f"-max_total_time={int(seconds)}",
               f"-seed={seed}",
               f"-max_len={MAX_LEN}", "-timeout=30", "-rss_limit_mb=4096", f"-artifact_prefix={crashes}/py-{target}-",
               *map(str, corpus_dirs(work, target, python=True))]
    env = dict(os.environ, **({"FUZZ_COLLECT": str(crashes)} if keep_going else {}))
    result = subprocess.run(command, capture_output=True, text=True, cwd=work, env=env)
    crash = _crash(crashes, before)
    return {"engine": "atheris", "target": f"py:{target}", "seconds": round(time.perf_counter() - started, 1),
            "ok": result.returncode == 0 and crash is None, "crash": crash, **_libfuzzer_figures(result.stderr),
            "output": "" if result.returncode == 0 else result.stderr[-3000:]}


def mutation_run(work: Path, target: str, seconds: float, seed: int) -> dict:
    """Without atheris: seeded random mutations of the corpus, no coverage guidance."""
    import host_targets as targets

    rng = random.Random(seed)
    inputs = [p.read_bytes() for d in corpus_dirs(work, target, python=True) for p in sorted(d.iterdir())
              if p.is_file()]
    started, runs = time.perf_counter(), 0
    crashes = work / "crashes"
    crashes.mkdir(exist_ok=True)
    while time.perf_counter() - started < seconds:
        data = corpus.mutate(rng.choice(inputs), rng, rng.randint(1, 8))[:MAX_LEN]
        if target == "tflite" and rng.random() < 0.5:
            try:
                data = corpus.mutate_model(rng.choice(inputs), rng, rng.randint(1, 3))
            except Exception:  # not a model this schema reads: keep the byte mutation
                pass
        runs += 1
        try:
            targets.run(target, data)
        except Exception as exc:  # noqa: BLE001 - reported with the input
            path = crashes / f"py-{target}-{type(exc).__name__}-{runs}"
            path.write_bytes(data)
            return {"engine": "mutation", "target": f"py:{target}", "executions": runs, "ok": False,
                    "crash": str(path), "output": repr(exc)[:3000], "seconds": round(time.perf_counter() - started, 1)}
    elapsed = time.perf_counter() - started
    return {"engine": "mutation", "target": f"py:{target}", "executions": runs, "exec_per_s": int(runs / elapsed),
            "ok": True, "crash": None, "seconds": round(elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300, help="fuzzing time per target (default 300)")
    parser.add_argument("--only", default="", help="comma-separated targets (default: all)")
    parser.add_argument("--no-c", action="store_true", help="skip the C targets")
    parser.add_argument("--no-python", action="store_true", help="skip the Python targets")
    parser.add_argument("--seed", type=int, default=1, help="fuzzer seed (default 1)")
    parser.add_argument("--work", type=Path, default=HERE / "build" / "run", help="build, corpora and crashes")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep-going", action="store_true",
                        help="Python targets: record every kind of failure in WORK/crashes and fuzz on")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    unknown = only - set(corpus.TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(corpus.TARGETS)}")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    clang = have_clang()
    results = []
    corpus.write(work / "seeds")
    if not args.no_c:
        build(work, clang)
        c_targets = [t for t in corpus.C_TARGETS if not only or t in only]
        for target in c_targets:
            results.append(replay(work, target))
        for target in c_targets if clang else ():
            results.append(libfuzzer(work, target, args.seconds, args.seed))
        if not clang:
            print("clang is not installed: C targets replayed only (apt-get install clang for libFuzzer)",
                  file=sys.stderr)
    if not args.no_python:
        for target in (t for t in corpus.PY_TARGETS if not only or t in only):
            if atheris_available():
                results.append(atheris_run(work, target, args.seconds, args.seed, args.keep_going))
            else:
                results.append(mutation_run(work, target, args.seconds, args.seed))
    for r in results:
        names = ("inputs", "executions", "exec_per_s", "coverage", "features", "corpus")
        figures = " ".join(f"{k}={r[k]}" for k in names if r.get(k) is not None)
        status = "ok" if r["ok"] else f"FAILED {r.get('crash') or r.get('failing_input') or ''}"
        print(f"{r['engine']:>9} {r['target']:<16} {r['seconds']:>7.1f} s  {figures}  {status}")
        if not r["ok"] and r.get("output"):
            print(r["output"], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"seconds_per_target": args.seconds, "seed": args.seed, "clang": clang,
                                         "results": [{k: v for k, v in r.items() if k != "output"} for r in results]},
                                        indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
