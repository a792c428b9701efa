"""Every command against bad input: the right exit code, one line that says what to do, no
traceback. The table below is the one in the README's error section."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.model.synth import ModelBuilder

from conftest import FIXTURES, REFERENCE_MODEL

INPUTS = str(FIXTURES / "reference" / "heldout_nhwc")
FAST = "vdev://esp32s3?realtime=0"


def custom_op_model() -> bytes:
    b = ModelBuilder(1)
    x = b.input((1, 8, 8, 1))  # the reference model's input: the inputs fit, the op does not
    return b.build([x], [b.custom("FlexErf", x)])


def huge_model() -> bytes:
    b = ModelBuilder(2)
    x = b.input((1, 1024))
    return b.build([x], [b.fully_connected(x, 1200)])  # 1.2 MB of weights: more than a model slot


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad")
    data = REFERENCE_MODEL.read_bytes()
    made = {
        "corrupt": data[:8] + bytes(b ^ 0x5A for b in data[8:4000]) + data[4000:],
        "truncated": data[: len(data) // 3],
        "empty": b"",
        "png": (FIXTURES / "reference" / "heldout_nhwc").iterdir().__next__().read_bytes()[:64] * 3,
        "custom_op": custom_op_model(),
        "huge": huge_model(),
    }
    paths = {}
    for name, content in made.items():
        path = folder / f"{name}.tflite"
        path.write_bytes(content)
        paths[name] = str(path)
    with open(folder / "sparse.tflite", "wb") as sparse:  # 40 MB on paper, nothing on disk
        sparse.truncate(40 * 2**20)
    paths["sparse"] = str(folder / "sparse.tflite")
    np.save(folder / "wrong_shape.npy", np.zeros((3, 5, 5, 1), np.float32))
    np.save(folder / "wrong_dtype.npy", np.array(["a", "b"]))
    paths["wrong_shape"], paths["wrong_dtype"] = str(folder / "wrong_shape.npy"), str(folder / "wrong_dtype.npy")
    (folder / "not_a_db.sqlite").write_text("this is not SQLite")
    paths["not_a_db"], paths["folder"] = str(folder / "not_a_db.sqlite"), str(folder)
    return paths


def bench(model: str, port: str = FAST, inputs: str = INPUTS, *extra: str) -> list[str]:
    return ["bench", "--port", port, "--model", model, "--inputs", inputs, "--n", "3", "--timeout", "0.3", *extra]


# (case, argv from the files, exit code, words the one line must hold)
MATRIX = [
    ("inspect: corrupt model", lambda f: ["inspect", f["corrupt"]], 2, "corrupt"),
    ("inspect: truncated model", lambda f: ["inspect", f["truncated"]], 2, "truncated"),
    ("inspect: empty file", lambda f: ["inspect", f["empty"]], 2, "empty"),
    ("inspect: not a model (image bytes)", lambda f: ["inspect", f["png"]], 2, "not a TFLite"),
    ("inspect: missing file", lambda f: ["inspect", "/nonexistent/model.tflite"], 2, "not found"),
    ("inspect: a file too large to be a model", lambda f: ["inspect", f["sparse"]], 2, "no ESP32-S3"),
    ("inspect: a device that never ends", lambda f: ["inspect", "/dev/zero"], 2, "no ESP32-S3"),
    ("bench: corrupt model", lambda f: bench(f["corrupt"]), 2, "corrupt"),
    ("bench: wrong input shape", lambda f: bench(str(REFERENCE_MODEL), FAST, f["wrong_shape"]), 2, "shape"),
    ("bench: wrong input dtype", lambda f: bench(str(REFERENCE_MODEL), FAST, f["wrong_dtype"]), 2, "input"),
    ("bench: missing inputs", lambda f: bench(str(REFERENCE_MODEL), FAST, "/nonexistent/inputs"), 2, "not found"),
    ("bench: missing port", lambda f: bench(str(REFERENCE_MODEL), "/dev/ttyNOPE9"), 3, "no such port"),
    ("bench: unknown URL scheme", lambda f: bench(str(REFERENCE_MODEL), "nope://board"), 3, "cannot open"),
    ("bench: a silent board", lambda f: bench(str(REFERENCE_MODEL), FAST + "&drop=1.0"), 4, "did not answer"),
    ("bench: a board that answers garbage", lambda f: bench(str(REFERENCE_MODEL), FAST + "&flip=0.2"), 4,
     "did not answer"),
    ("bench: a model the firmware cannot run", lambda f: bench(f["custom_op"]), 4, "UNSUPPORTED_OP"),
    ("bench: a store that cannot be written", lambda f: bench(str(REFERENCE_MODEL), FAST, INPUTS, "--db",
                                                             "/proc/espml.sqlite"), 1, "results store"),
    ("bench: resume a run that does not exist", lambda f: bench(str(REFERENCE_MODEL), FAST, INPUTS, "--db",
                                                               f["folder"] + "/r.sqlite", "--resume", "9"), 1, "no run 9"),
    ("flash: model larger than its slot", lambda f: ["flash", "--port", FAST, f["huge"]], 8, "slot"),
    ("flash: a model the firmware cannot run", lambda f: ["flash", "--port", FAST, f["custom_op"]], 8, "will not run"),
    ("flash: firmware that is no ESP32-S3 image", lambda f: ["flash", "--port", FAST, "--firmware",
                                                            f"0x10000={f['png']}"], 9, "not a valid ESP32-S3 image"),
    ("flash: missing firmware file", lambda f: ["flash", "--port", FAST, "--firmware", "/nonexistent/app.bin"], 9,
     "app.bin"),
    ("info: missing port", lambda f: ["info", "--port", "/dev/ttyNOPE9"], 3, "no such port"),
    ("info: unknown vdev option", lambda f: ["info", "--port", "vdev://esp32s3?warp=9"], 3, "unknown vdev option"),
    ("report: missing store", lambda f: ["report", "--db", "/nonexistent/r.sqlite"], 1, "r.sqlite"),
    ("report: not a store", lambda f: ["report", "--db", f["not_a_db"]], 1, "not_a_db"),
]


@pytest.mark.parametrize("case, argv, code, words", MATRIX, ids=[m[0] for m in MATRIX])
def test_bad_input_gets_one_line_that_says_what_to_do(case, argv, code, words, files, capsys) -> None:
    assert main(argv(files)) == code, case
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING", "W espml"))]
    assert len(lines) == 1 and lines[0].startswith("espml: error:"), err
    assert words.lower() in lines[0].lower() and "(" in lines[0], lines[0]  # the cause, then the hint
    assert "Traceback" not in err


# A model that will not fit or run is not an error of the command: inspect says why in its report.
UNFIT = [
    ("inspect: a custom op the firmware lacks", "custom_op", "FlexErf", "will not run on"),
    ("inspect: larger than a model slot", "huge", "model image vs model slot", "does not fit on"),
]


@pytest.mark.parametrize("case, name, words, verdict", UNFIT, ids=[u[0] for u in UNFIT])
def test_a_model_that_will_not_fit_gets_exit_8_and_the_reason(case, name, words, verdict, files, capsys) -> None:
    assert main(["inspect", files[name]]) == 8, case
    captured = capsys.readouterr()
    assert words in captured.out and verdict in captured.out
    assert "Traceback" not in captured.err


# A board that lies (tests/lying_board.py, on a pty): (case, lie, command, exit code, words of the line)
LIES = [
    ("bench: a board announcing an endless output", "endless_output", "bench", 4, "the model's is 10"),
    ("bench: a board announcing an output shorter than the tensor", "short_output", "bench", 4, "is 9 bytes"),
    ("bench: a board announcing an output longer than the tensor", "long_output", "bench", 4, "is 17 bytes"),
    ("bench: a board sending more output bytes than it announced", "overlong_chunk", "bench", 4, "runs past its end"),
    ("bench: a board flooding text without delimiters", "text_flood", "bench", 4, "floods the port"),
    ("bench: a board flooding LOG frames", "log_flood", "bench", 4, "floods the port"),
    ("info: a board trickling bytes that never make an answer", "trickle", "info", 4, "did not answer"),
    ("info: a board announcing max_payload 0", "max_payload_0", "info", 4, "max_payload of 0"),
    ("bench: a board announcing max_payload 5", "max_payload_5", "bench", 4, "max_payload of 5"),
    ("bench: a board announcing max_payload 9", "max_payload_9", "bench", 4, "max_payload of 9"),
    ("bench: a board counting 2^64-1 cycles", "huge_cycles", "bench", 4, "64-bit signed"),
]


def lie_argv(command: str, port: str, *extra: str) -> list[str]:
    if command == "info":
        return ["info", "--port", port, "--timeout", "0.3", *extra]
    return bench(str(REFERENCE_MODEL), port, INPUTS, *extra)


@pytest.mark.parametrize("case, lie, command, code, words", LIES, ids=[c[0] for c in LIES])
def test_a_lying_board_gets_one_line(case, lie, command, code, words, tmp_path: Path, capsys) -> None:
    from lying_board import LyingBoard

    with LyingBoard(lie, REFERENCE_MODEL.read_bytes()) as board:
        assert main(lie_argv(command, board.path, *(["--db", str(tmp_path / "r.sqlite")] if command == "bench" else []))) == code, case
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING", "W espml"))]
    assert len(lines) == 1 and lines[0].startswith("espml: error:"), err
    assert words.lower() in lines[0].lower() and "(" in lines[0], lines[0]
    assert "Traceback" not in err


# Lies a run survives: (case, lie, command) -> exit 0, valid JSON, no control character on the terminal
SURVIVED = [
    ("bench: a board sending empty LOG frames", "empty_log", "bench"),
    ("bench: a board reporting infinite current", "infinite_current", "bench"),
    ("bench: a board reporting NaN current", "nan_current", "bench"),
    ("info: a board named [/oops] with ESC sequences", "markup_name", "info"),
    ("bench: a board named [/oops] with ESC sequences", "markup_name", "bench"),
]


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


@pytest.mark.parametrize("case, lie, command", SURVIVED, ids=[c[0] for c in SURVIVED])
def test_a_lie_the_run_survives_gives_valid_json_and_inert_text(case, lie, command, tmp_path: Path, capsys) -> None:
    from lying_board import LyingBoard

    out = tmp_path / "out.json"
    extra = ["--json", str(out)] + (["--db", str(tmp_path / "r.sqlite")] if command == "bench" else [])
    with LyingBoard(lie, REFERENCE_MODEL.read_bytes()) as board:
        assert main(lie_argv(command, board.path, *extra)) == 0, case
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "\x1b" not in captured.out + captured.err
    figures = json.loads(out.read_text(), parse_constant=_no_constants)  # no NaN, no Infinity
    if lie == "infinite_current":
        assert figures["current_ma"] is None and figures["energy_uj_per_inference"] is None
    if lie == "markup_name":
        assert figures["board"] == "[/oops]" and "[/oops]" in captured.out


# Numbers a person mistypes: refused by the parser (exit 2) before any port, model or store is opened
NUMBERS = [
    ("bench: --n 0", ["bench", "--n", "0"], "--n"),
    ("bench: --n -5", ["bench", "--n", "-5"], "--n"),
    ("bench: --warmup -3", ["bench", "--warmup", "-3"], "--warmup"),
    ("bench: --timeout nan", ["bench", "--timeout", "nan"], "--timeout"),
    ("demo: --n -5", ["demo", "--n", "-5"], "--n"),
    ("bench: --n 99999999999999999999", ["bench", "--n", "99999999999999999999"], "--n"),
    ("bench: --warmup 99999999999999999999", ["bench", "--warmup", "99999999999999999999"], "--warmup"),
    ("bench: --resume 0", ["bench", "--resume", "0"], "--resume"),
    ("bench: --resume 99999999999999999999", ["bench", "--resume", "99999999999999999999"], "--resume"),
    ("bench: --power-group 0", ["bench", "--power", "replay:/nonexistent.npz", "--power-group", "0"], "--power-group"),
    ("sim: --baud 0", ["sim", "--baud", "0"], "--baud"),
    ("sim: --baud -9600", ["sim", "--baud", "-9600"], "--baud"),
]


@pytest.mark.parametrize("case, argv, option", NUMBERS, ids=[c[0] for c in NUMBERS])
def test_a_bad_number_exits_2_in_the_parser_naming_its_option(case, argv, option, tmp_path: Path, capsys) -> None:
    db = tmp_path / "r.sqlite"
    rest = {"bench": ["--port", "/dev/ttyNOPE9", "--model", "/nonexistent/m.tflite", "--inputs", "/nonexistent",
                      "--db", str(db)],
            "demo": ["--work", str(tmp_path / "work"), "--db", str(db)],
            "sim": ["--rfc2217", "0.0.0.0:4000"]}[argv[0]]  # refused after the parser, were the number let through
    with pytest.raises(SystemExit) as exited:
        main([*argv, *rest])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and f"argument {option}:" in err[-1], err
    assert "--inputs" not in err[-1] or argv[0] == "bench"
    assert not db.exists() and not (tmp_path / "work").exists()


# A preprocessing given (--preprocess) or recorded beside the model: (case, spec or sidecar JSON, words)
PREPROCESSING = [
    ("bench: --preprocess scale=1/0", "scale=1/0", "divides by zero"),
    ("bench: --preprocess scale=1/2/3", "scale=1/2/3", "1/2/3"),
    ("bench: --preprocess scale=1e400,mean=nan", "scale=1e400,mean=nan", "finite"),
    ("bench: --preprocess std=inf", "std=inf", "finite"),
    ("bench: --preprocess scale=1e9", "scale=1e9", "beyond"),
    ("bench: a recorded preprocessing of 46000x46000 pixels", {"size": [46000, 46000]}, "more than any board"),
    ("bench: a recorded preprocessing with scale 1/0", {"scale": "1/0"}, "divides by zero"),
    ("bench: a recorded preprocessing with NaN mean", {"mean": float("nan")}, "finite"),
    ("bench: a recorded preprocessing with an infinite size", {"size": [float("inf"), 5]}, "not a whole number"),
    ("bench: a recorded preprocessing with an empty mean", {"mean": []}, "mean has 0 values for 1 channel"),
    ("bench: a recorded preprocessing with two stds for one channel", {"std": [1, 1]}, "std has 2 values for 1 channel"),
]


@pytest.mark.parametrize("case, spec, words", PREPROCESSING, ids=[c[0] for c in PREPROCESSING])
def test_a_bad_preprocessing_is_one_line(case, spec, words, tmp_path: Path, capsys) -> None:
    model = tmp_path / "m.tflite"
    shutil.copyfile(REFERENCE_MODEL, model)
    extra = ["--db", str(tmp_path / "r.sqlite")]
    if isinstance(spec, dict):
        (tmp_path / "m.preprocess.json").write_text(json.dumps({"espml_preprocess": 1, **spec}))
    else:
        extra += ["--preprocess", spec]
    assert main(bench(str(model), FAST, INPUTS, *extra)) == 2, case
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and words.lower() in lines[0].lower() and "Traceback" not in err, err
    assert not (tmp_path / "r.sqlite").exists()


def test_an_image_of_another_size_is_refused_naming_both_shapes(tmp_path: Path, capsys) -> None:
    """bench: a 96x96 photo for an 8x8 model, no resize in the preprocessing."""
    from PIL import Image

    Image.fromarray(np.zeros((96, 96, 3), np.uint8) + 40).save(tmp_path / "photo.png")
    argv = bench(str(REFERENCE_MODEL), FAST, str(tmp_path / "photo.png"), "--preprocess", "scale=1/255",
                 "--db", str(tmp_path / "r.sqlite"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "96x96x1" in err and "8x8x1" in err and "resize" in err, err


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 48 KB tmpfs: a disk that really fills up (mounting needs root, as CI has; skipped elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_bench_on_a_disk_that_fills_up_stops_in_one_line_and_resumes_after(small_disk: Path, capsys) -> None:
    """bench: a full disk for the store. Every inference stored before the disk filled stays, in
    order and once, and the run goes on with --resume once there is room."""
    db = small_disk / "r.sqlite"
    code = main(bench(str(REFERENCE_MODEL), FAST, INPUTS, "--db", str(db), "--n", "3000"))
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING", "W espml"))]
    assert code == 1 and len(lines) == 1 and "disk is full" in lines[0] and "free space" in lines[0], err
    assert "Traceback" not in err
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as store:
        (run_id, status), = store.execute("SELECT id, status FROM runs").fetchall()
        indices = [i for (i,) in store.execute("SELECT idx FROM inferences ORDER BY idx")]
    assert status in ("running", "interrupted") and 0 < len(indices) < 3000
    assert indices == list(range(len(indices)))
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
    resume = bench(str(REFERENCE_MODEL), FAST, INPUTS, "--db", str(db), "--n", "3000", "--resume", str(run_id))
    assert main(resume) == 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as store:
        assert [i for (i,) in store.execute("SELECT idx FROM inferences ORDER BY idx")] == list(range(3000))


def test_a_port_the_user_may_not_open_says_which_group_to_join(tmp_path: Path) -> None:
    """info: a port without permission. A terminal with mode 000, opened by a process that may not
    override file permissions (as root, as CI runs, the test drops that capability with setpriv)."""
    import os
    import sys

    controller, terminal = os.openpty()
    try:
        path = os.ttyname(terminal)
        os.chmod(path, 0)
        unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
        run = subprocess.run([*(unprivileged if os.geteuid() == 0 else []), sys.executable, "-m", "toolkit.cli",
                              "info", "--port", path, "--timeout", "0.3"],
                             capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    finally:
        os.close(terminal)
        os.close(controller)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 3 and len(lines) == 1, run.stderr
    assert "permission denied" in lines[0] and "group" in lines[0] and "Traceback" not in run.stderr


def test_the_readme_lists_every_case() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    others = ["bench: a full disk for the store", "info: a port without permission",
              "bench: an image of another size"]
    missing = [case for case, *_ in MATRIX + UNFIT + LIES + SURVIVED + NUMBERS + PREPROCESSING if case not in readme] + [c for c in others if c not in readme]
    assert not missing, missing


def test_no_shell_is_built_from_user_strings() -> None:
    """Security: subprocesses get argument lists; nothing runs a command line through a shell."""
    root = Path(__file__).resolve().parent.parent / "toolkit"
    offenders = [str(p) for p in root.rglob("*.py") if "shell=True" in p.read_text() or "os.system(" in p.read_text()]
    assert not offenders and shutil.which("sh")  # (sh exists; we just never hand it user input)


# --- boards and files that lie (issue 19: flash tables, resume, read-only report, SIGINT, ...) ---

def _table(*rows: tuple[str, int, int, int, int]) -> bytes:
    from toolkit.image.partitions import Partition, load_csv, to_binary

    ours = [p for p in load_csv() if not p.name.startswith("model_")]
    return to_binary(ours + [Partition(*row) for row in rows])


# (case, the board's partition table at 0x8000 (None: blank), exit code, words of the one line)
BOARD_TABLES = [
    ("flash: a board whose 8 KiB slots are followed by a data partition",
     _table(("model_a", 1, 0x40, 0x200000, 0x2000), ("model_b", 1, 0x40, 0x202000, 0x2000),
            ("storage", 1, 0x82, 0x204000, 0x10000)), 8, "its slot holds 8,192"),
    ("flash: a board without a model_b slot", _table(("model_a", 1, 0x40, 0x200000, 0x100000)), 9, "no 'model_b'"),
    ("flash: a board whose slot is not sector-aligned",
     _table(("model_a", 1, 0x40, 0x200800, 0x100000), ("model_b", 1, 0x40, 0x300800, 0x100000)), 9, "aligned"),
    ("flash: a board whose slot has another subtype",
     _table(("model_a", 1, 0x82, 0x200000, 0x100000), ("model_b", 1, 0x40, 0x300000, 0x100000)), 9,
     "not a model slot"),
    ("flash: a board whose slot overlaps another partition",
     _table(("model_a", 1, 0x40, 0x200000, 0x100000), ("model_b", 1, 0x40, 0x280000, 0x100000)), 9, "overlaps"),
    ("flash: a board whose slot runs past the end of its flash",
     _table(("model_a", 1, 0x40, 0x200000, 0x100000), ("model_b", 1, 0x40, 0x7C0000, 0x100000)), 9,
     "outside the flash"),
    ("flash: a board with no partition table", None, 9, "blank"),
]


# cases with a test of their own below, listed in the README's table too
HOSTILE_OTHERS: list[tuple[str]] = [("bench: resume a run another process is resuming",),
                                     ("bench: a repository whose config names a program (core.fsmonitor)",)]


def _board_with_table(name: str, table: bytes | None):
    from toolkit.image.partitions import TABLE_OFFSET, TABLE_SIZE
    from toolkit.virtual.protocol_vdev import board_for_url

    url = f"vdev://esp32s3?realtime=0&id=table-{abs(hash(name))}"
    board = board_for_url(url)
    board.flash.erase(TABLE_OFFSET, 0x1000)
    if table is not None:
        board.flash.write(TABLE_OFFSET, table[:TABLE_SIZE])
    board.power_cycle()
    return url, board


@pytest.mark.parametrize("case, table, code, words", BOARD_TABLES, ids=[t[0] for t in BOARD_TABLES])
def test_flash_checks_the_boards_own_partition_table(case, table, code, words, capsys) -> None:
    """The board's table differs from ours: refused in one line, and not one byte of its flash changes."""
    url, board = _board_with_table(case, table)
    before = board.flash.read(0, board.flash.size)
    assert main(["flash", "--port", url, str(REFERENCE_MODEL)]) == code, case
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], err
    assert board.flash.read(0, board.flash.size) == before


def test_flash_into_a_boards_own_slots_writes_inside_the_slot_only() -> None:
    """A board whose valid table puts 256 KiB slots elsewhere: the model goes there, and nothing
    outside the slot it went to changes."""
    url, board = _board_with_table("other slots", _table(("model_a", 1, 0x40, 0x400000, 0x40000),
                                                         ("model_b", 1, 0x40, 0x440000, 0x40000)))
    before = board.flash.read(0, board.flash.size)
    assert main(["flash", "--port", url, str(REFERENCE_MODEL)]) == 0
    after = board.flash.read(0, board.flash.size)
    changed = [i for i in range(0, len(after), 0x1000) if after[i:i + 0x1000] != before[i:i + 0x1000]]
    assert changed and all(0x400000 <= i < 0x440000 for i in changed), [hex(i) for i in changed]


def test_the_readme_lists_the_hostile_cases() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [case for case, *_ in BOARD_TABLES + RESUMES + READ_ONLY + FLASHER_ARGS + HOSTILE_OTHERS if case not in readme]
    assert not missing, missing


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> Path:
    """A store holding run 1: 3 of 8 inferences on an esp32s3, then the board hung."""
    db = tmp_path_factory.mktemp("resume") / "r.sqlite"
    assert main(bench(str(REFERENCE_MODEL), FAST + "&hang_after=4", INPUTS, "--n", "8", "--db", str(db))) == 4
    return db


def _rows(db: Path) -> tuple[list, list]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as store:
        return store.execute("SELECT * FROM runs").fetchall(), store.execute("SELECT * FROM inferences").fetchall()


def _other_inputs(folder: Path) -> str:
    np.save(folder / "other.npy", np.ones((2, 8, 8, 1), np.float32))
    return str(folder / "other.npy")


# (case, how the store is changed first (or None), the resume's argv from the store's folder, words)
RESUMES = [
    ("bench: resume on another board kind", None,
     lambda d: bench(str(REFERENCE_MODEL), "vdev://esp32s3-r8?realtime=0", INPUTS), "board kind"),
    ("bench: resume with another firmware", "UPDATE runs SET firmware = 'espml-fw 0.0.1'",
     lambda d: bench(str(REFERENCE_MODEL)), "firmware (the run's espml-fw 0.0.1"),
    ("bench: resume with other inputs", None, lambda d: bench(str(REFERENCE_MODEL), FAST, _other_inputs(d)),
     "inputs"),
    ("bench: resume with another --n", None, lambda d: bench(str(REFERENCE_MODEL), FAST, INPUTS, "--n", "9"), "--n"),
    ("bench: resume with another --warmup", None,
     lambda d: bench(str(REFERENCE_MODEL), FAST, INPUTS, "--n", "8", "--warmup", "3"), "--warmup"),
    ("bench: resume a run that recorded no inputs", "UPDATE runs SET inputs_sha256 = NULL",
     lambda d: bench(str(REFERENCE_MODEL), FAST, INPUTS, "--n", "8"), "not recorded"),
]


@pytest.mark.parametrize("case, change, argv, words", RESUMES, ids=[r[0] for r in RESUMES])
def test_a_resume_that_differs_from_its_run_is_refused(case, change, argv, words, interrupted_run, tmp_path,
                                                       capsys) -> None:
    db = tmp_path / "r.sqlite"
    shutil.copy(interrupted_run, db)
    if change:
        with sqlite3.connect(db) as store:
            store.execute(change)
    before = _rows(db)
    assert main([*argv(tmp_path), "--db", str(db), "--resume", "1"]) == 1, case
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "run 1 cannot go on here" in lines[0] and words in lines[0], err
    assert _rows(db) == before  # nothing stored, nothing reopened


def test_the_same_resume_goes_on(interrupted_run, tmp_path) -> None:
    """The control: the run's own board kind, firmware, inputs and plan resume and complete it."""
    db = tmp_path / "r.sqlite"
    shutil.copy(interrupted_run, db)
    assert main([*bench(str(REFERENCE_MODEL), FAST, INPUTS)[:-4], "--db", str(db), "--resume", "1"]) == 0
    runs, inferences = _rows(db)
    assert [r[0] for r in runs] == [1] and sorted(i[1] for i in inferences) == list(range(8))


ROOT = Path(__file__).resolve().parent.parent


def _cli(*argv: str, **popen) -> subprocess.Popen:
    import os
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "toolkit.cli", *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _stored(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as store:
        return store.execute("SELECT COUNT(*) FROM inferences").fetchone()[0]


def test_two_processes_resuming_one_run(tmp_path: Path) -> None:
    """bench: resume a run another process is resuming. The first goes on and completes it; the
    second is refused in one line (no IntegrityError) and stores nothing."""
    import time

    db = tmp_path / "r.sqlite"
    assert main(bench(str(REFERENCE_MODEL), FAST + "&hang_after=2", INPUTS, "--n", "40", "--db", str(db))) == 4
    assert _stored(db) == 1
    args = ["--model", str(REFERENCE_MODEL), "--inputs", INPUTS, "--db", str(db), "--resume", "1"]
    first = _cli("bench", "--port", "vdev://esp32s3?slow=20", *args)  # 200 ms an inference: 8 s
    deadline = time.monotonic() + 60
    while _stored(db) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # until it has claimed the run and stored an inference
    second = _cli("bench", "--port", FAST, *args)
    _, err = second.communicate(timeout=120)
    assert first.poll() is None, "the first resume ended before the second one was refused"
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("WARNING")]
    assert second.returncode == 1 and len(lines) == 1 and "another process" in lines[0], err
    assert "Traceback" not in err and "IntegrityError" not in err
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as store:
        assert [i for (i,) in store.execute("SELECT idx FROM inferences ORDER BY idx")] == list(range(40))
        assert store.execute("SELECT status FROM runs").fetchall() == [("done",)]


def test_a_row_another_writer_stored_first_is_one_line(tmp_path: Path) -> None:
    """Two writers of one run that the lock cannot tell apart (one process): the second write of
    an inference is a one-line RunBusy, not sqlite3.IntegrityError, and the first row stays."""
    from toolkit.harness.store import ResultsStore, RunBusy

    one, two = ResultsStore(tmp_path / "r.sqlite"), ResultsStore(tmp_path / "r.sqlite")
    run_id = one.start_run("vdev", "esp32s3", "espml-fw 1", "ab" * 32, True)
    row = {"idx": 0, "sample": 0, "latency_us": 5, "cycles": 7, "output_matches": 1}
    one.add_inference(run_id, row)
    with pytest.raises(RunBusy, match="another process"):
        two.add_inference(run_id, {**row, "latency_us": 9})
    assert [r["latency_us"] for r in one.inferences(run_id)] == [5]
    one.close(), two.close()


def _old_store(path: Path) -> None:
    """A store from before the inputs' hash and the plan were recorded, holding one finished run."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, status TEXT NOT NULL, "
            "port TEXT NOT NULL, board TEXT, firmware TEXT, model_sha256 TEXT, simulated INTEGER NOT NULL, "
            "summary TEXT);"
            "CREATE TABLE inferences (run_id INTEGER NOT NULL, idx INTEGER NOT NULL, sample INTEGER NOT NULL, "
            "latency_us INTEGER NOT NULL, cycles INTEGER NOT NULL, output_matches INTEGER NOT NULL);"
            "INSERT INTO runs VALUES (1, 1700000000, 1700000001, 'done', 'vdev', 'esp32s3', 'espml-fw 0.1', "
            "'ab', 1, NULL);"
            "INSERT INTO inferences VALUES (1, 0, 0, 900, 1000, 1);")


def _foreign_db(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
        db.commit()


# (case, how the --db file is made, exit code, words of the one line; None: the report is written)
READ_ONLY = [
    ("report: an empty file", lambda p: p.write_bytes(b""), 1, "is empty"),
    ("report: an SQLite file of another program", _foreign_db, 1, "no runs table"),
    ("report: a store from an older espml", _old_store, 0, None),
]


@pytest.mark.parametrize("case, make, code, words", READ_ONLY, ids=[r[0] for r in READ_ONLY])
def test_report_never_writes_the_store_it_reads(case, make, code, words, tmp_path: Path, capsys) -> None:
    pytest.importorskip("plotly")
    db = tmp_path / "r.sqlite"
    make(db)
    before = sorted(tmp_path.iterdir()), db.read_bytes()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "out" / "report.html")]) == code, case
    err = capsys.readouterr().err.strip()
    if words is not None:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], err
    assert db.read_bytes() == before[1]  # not a byte written: no schema, no new column
    assert sorted(p for p in tmp_path.iterdir() if p.name != "out") == before[0]  # no journal, no lock file


def test_git_status_runs_no_program_the_repository_names(tmp_path: Path) -> None:
    """The store records git status; a repository whose config sets core.fsmonitor to a command
    (here one that writes a marker file) does not get that command run."""
    from toolkit.harness.store import git_commit

    repo, marker = tmp_path / "repo", tmp_path / "ran"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    subprocess.run([*git, "config", "core.fsmonitor", f"touch {marker}; false"], check=True)
    (repo / "a.txt").write_text("b")
    git_commit.cache_clear()
    assert git_commit(str(repo)).endswith("+") and not marker.exists()


FLASHER_ARGS = [
    ("flash: flasher_args.json naming a file outside the build folder", {"flash_files": {"0x10000": "../secret.bin"}},
     "outside the build folder"),
    ("flash: flasher_args.json naming an absolute path", {"flash_files": {"0x10000": "/etc/hostname"}},
     "outside the build folder"),
    ("flash: flasher_args.json that is not JSON", "{not json", "cannot read"),
    ("flash: flasher_args.json holding a list", ["0x0", "a.bin"], "no flash_files object"),
    ("flash: flasher_args.json with a bad offset", {"flash_files": {"zero": "a.bin"}}, "not an offset"),
]


@pytest.mark.parametrize("case, content, words", FLASHER_ARGS, ids=[f[0] for f in FLASHER_ARGS])
def test_flasher_args_are_checked(case, content, words, tmp_path: Path, capsys) -> None:
    import json

    build = tmp_path / "build"
    build.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"secret")
    (build / "a.bin").write_bytes(b"a")
    (build / "flasher_args.json").write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["flash", "--port", FAST, "--firmware", str(build)]) == 9, case
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], lines


@pytest.mark.parametrize("lie", ["short_output", "long_output"])
def test_locate_checks_a_probes_outputs_against_the_probe_model(lie: str) -> None:
    """bench --locate reads each probe model's outputs from the board: a board announcing another
    size there is a one-line ProtocolError (not numpy's "cannot reshape"), and an endless one is
    refused before any byte is kept, as in the bench loop."""
    from lying_board import LyingBoard

    from toolkit.errors import ProtocolError
    from toolkit.harness import Session
    from toolkit.harness.locate import _run_board
    from toolkit.model import load_model

    model = load_model(REFERENCE_MODEL)
    with LyingBoard(lie, model.data) as board, Session.open(board.path, timeout=0.5) as session:
        session.hello()
        with pytest.raises(ProtocolError, match="the model's is 10"):
            _run_board(session, model, [np.zeros(model.inputs[0].shape, np.int8)], 1.0)
