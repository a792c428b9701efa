"""Fuzzing on a fixed, short budget (device/fuzz/run.py --seconds N runs the long one).

- The firmware's C core (COBS, frame decoder, model-image parser, flatbuffer op-code reader, the
  protocol handler through a fake port) under AddressSanitizer and UndefinedBehaviorSanitizer: the
  replay driver over the seed corpora and the committed regression inputs, always; a few seconds
  of libFuzzer per target with a fixed seed when clang is installed.
- The host's parsers (COBS, FrameDecoder, message unpackers, the TFLite reader and what
  `espml inspect` does with a model, the model-image parser), each checked against its contract
  and, where the firmware parses the same bytes, against the C: the corpora, then hypothesis with a
  fixed seed mutating them (bytes, and flatbuffer fields for models).
- Every input that once broke something is in device/fuzz/corpus/<target>/ and runs here by name.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "device" / "fuzz"  # the firmware's fuzzers and the shared corpora
PY_FUZZ = ROOT / "tests" / "fuzz"  # the toolkit's Python fuzz targets
sys.path[:0] = [str(FUZZ), str(PY_FUZZ)]

import corpus  # noqa: E402  (device/fuzz/corpus.py)
import host_targets as targets  # noqa: E402  (tests/fuzz/host_targets.py)

from toolkit.errors import ModelError  # noqa: E402

HAVE_CC = shutil.which("cc") is not None and shutil.which("make") is not None
HAVE_CLANG = shutil.which(os.environ.get("CLANG", "clang")) is not None
FUZZER_SECONDS = 3  # per target, all targets of one engine at once
HYPOTHESIS_EXAMPLES = {"cobs": 1000, "frame": 600, "messages": 2000, "tflite": 300, "model_image": 1000}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz-seeds")
    corpus.write(out)
    return out


def _folders(seeds: Path, target: str) -> list[str]:
    folders = [seeds / target, corpus.regression_dir(target)]
    return [str(f) for f in folders if f.is_dir()]


def _make(build: Path, goal: str) -> None:
    result = subprocess.run(["make", "-s", "-C", str(FUZZ), f"BUILD={build}", "-j", str(os.cpu_count() or 2), goal],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the firmware's C ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replay_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_CC:
        pytest.skip("no C compiler or make")
    build = tmp_path_factory.mktemp("fuzz-replay")
    _make(build, "replay")
    return build


@pytest.fixture(scope="module")
def libfuzzer_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_CLANG or not HAVE_CC:
        pytest.skip("clang is not installed (apt-get install clang): libFuzzer runs skipped, the replay driver ran")
    build = tmp_path_factory.mktemp("fuzz-libfuzzer")
    _make(build, "fuzzers")
    return build


@pytest.mark.parametrize("target", corpus.C_TARGETS)
def test_c_core_survives_its_corpus_under_sanitizers(target: str, replay_build: Path, seeds: Path) -> None:
    result = subprocess.run([str(replay_build / f"replay_{target}"), *_folders(seeds, target)], capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, REPLAY_VERBOSE="1"))
    last = [line for line in result.stderr.splitlines() if line.startswith("replay: ")][-1:]
    assert result.returncode == 0, f"{last}\n{result.stderr[-3000:]}"
    count = int(result.stdout.split()[1])
    assert count >= 10, result.stdout


def _run_all(commands: dict[str, list[str]], workdir: Path) -> dict[str, tuple[int, str, list[str]]]:
    """Start every fuzzer at once (each a few seconds), wait for all: (exit code, stderr, crash files)."""
    running = {}
    for name, command in commands.items():
        folder = workdir / name
        (folder / "grown").mkdir(parents=True)
        log = open(folder / "log", "w+")
        command = [*command, f"-artifact_prefix={folder}/crash-", str(folder / "grown")]
        running[name] = (subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=folder), log, folder)
    results = {}
    for name, (process, log, folder) in running.items():
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        log.seek(0)
        results[name] = (code, log.read(), [p.name for p in folder.iterdir() if p.name.startswith("crash-")])
        log.close()
    return results


def _fuzzer_options(seeds: Path, target: str) -> list[str]:
    return ["-seed=1", f"-max_total_time={FUZZER_SECONDS}", "-max_len=16384", "-timeout=10",
            *(f for f in _folders(seeds, target))]


@pytest.fixture(scope="module")
def libfuzzer_runs(libfuzzer_build: Path, seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    commands = {t: [str(libfuzzer_build / f"fuzz_{t}"), *_fuzzer_options(seeds, t)] for t in corpus.C_TARGETS}
    return _run_all(commands, tmp_path_factory.mktemp("libfuzzer"))


@pytest.mark.parametrize("target", corpus.C_TARGETS)
def test_c_core_libfuzzer_short_run(target: str, libfuzzer_runs: dict) -> None:
    code, log, crashes = libfuzzer_runs[target]
    assert code == 0 and not crashes, f"{crashes}\n{log[-3000:]}"
    assert "DONE" in log, log[-2000:]


# --- the host's parsers ---------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _inputs(target: str) -> tuple[bytes, ...]:
    found = list(corpus.seeds(target).values())
    folder = corpus.regression_dir(target)
    if folder.is_dir():
        found += [p.read_bytes() for p in sorted(folder.iterdir())]
    return tuple(found)


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_host_parser_keeps_its_contract_on_the_corpus(target: str) -> None:
    for data in _inputs(target):
        targets.run(target, data)


def _fuzz(target: str):
    @settings(max_examples=HYPOTHESIS_EXAMPLES[target], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(pick=st.integers(0, 2 ** 16), rng=st.randoms(use_true_random=False), rounds=st.integers(1, 6),
           raw=st.binary(max_size=64), how=st.sampled_from(("mutate", "mutate", "splice", "raw", "structure")))
    def check(pick: int, rng: random.Random, rounds: int, raw: bytes, how: str) -> None:
        inputs = _inputs(target)
        base = inputs[pick % len(inputs)]
        if how == "raw":
            data = base[:1] + raw if target == "messages" else raw
        elif how == "splice":
            other = inputs[(pick // 7) % len(inputs)]
            data = base[:rng.randint(0, len(base))] + other[rng.randint(0, len(other)):]
        elif how == "structure" and target == "tflite":
            try:
                data = corpus.mutate_model(base, rng, rounds)
            except Exception:  # a base the schema cannot read: mutate its bytes instead
                data = corpus.mutate(base, rng, rounds)
        else:
            data = corpus.mutate(base, rng, rounds)
        targets.run(target, data)

    return check


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_host_parser_keeps_its_contract_under_mutation(target: str) -> None:
    _fuzz(target)()


@pytest.fixture(scope="module")
def atheris_runs(seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("atheris", reason="atheris is not installed: hypothesis alone fuzzed the host's parsers")
    commands = {t: [sys.executable, str(PY_FUZZ / "host_targets.py"), t, *_fuzzer_options(seeds, t)]
                for t in targets.TARGETS}
    return _run_all(commands, tmp_path_factory.mktemp("atheris"))


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_host_parser_atheris_short_run(target: str, atheris_runs: dict) -> None:
    code, log, crashes = atheris_runs[target]
    assert code == 0 and not crashes, f"{crashes}\n{log[-3000:]}"
    assert "DONE" in log, log[-2000:]


# --- every input that broke something, by name -------------------------------------------------------------
def _regressions() -> list:
    params = []
    for target in corpus.TARGETS:
        folder = corpus.regression_dir(target)
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            params.append(pytest.param(target, path, id=f"{target}/{path.name}"))
    return params


@pytest.mark.parametrize("target, path", _regressions())
def test_regression_input(target: str, path: Path, request: pytest.FixtureRequest) -> None:
    """Found by fuzzing; fixed. Python targets check the host, C targets the firmware."""
    data = path.read_bytes()
    if target in targets.TARGETS:
        targets.run(target, data)
    if target in corpus.C_TARGETS:
        replay_build = request.getfixturevalue("replay_build")
        result = subprocess.run([str(replay_build / f"replay_{target}"), str(path)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]


# What the TFLite reader must say about each regression model: refuse it (ModelError), or read it.
TFLITE_EXPECTED = {
    "conv_filter_rank_2": "refused", "conv_output_rank_0": "refused", "conv_without_output": "refused",
    "fc_output_rank_0": "refused", "fc_weights_optional": "refused", "fc_weights_rank_0": "refused",
    "graph_input_negative": "refused", "op_input_negative_2": "refused", "op_input_past_tensors": "refused",
    "op_output_past_tensors": "refused", "custom_code_not_utf8": "read", "unknown_tensor_type_99": "read",
    "tables_shared_300x300": "refused",
}


@pytest.mark.parametrize("name", sorted(TFLITE_EXPECTED))
def test_tflite_regression_model_is_refused_or_read(name: str) -> None:
    from toolkit.model.reader import load_model

    data = (corpus.regression_dir("tflite") / name).read_bytes()
    if TFLITE_EXPECTED[name] == "refused":
        with pytest.raises(ModelError, match="corrupt"):
            load_model(data)
    else:
        model = load_model(data)
        for tensor in model.tensors:
            assert tensor.nbytes >= 0


def test_every_tflite_regression_input_has_an_expectation() -> None:
    names = {p.name for p in corpus.regression_dir("tflite").iterdir()}
    assert names == set(TFLITE_EXPECTED)


def test_unknown_tensor_type_is_named_by_its_code_and_counts_one_byte_per_element() -> None:
    from toolkit.model.reader import load_model

    model = load_model((corpus.regression_dir("tflite") / "unknown_tensor_type_99").read_bytes())
    tensor = next(t for t in model.tensors if t.dtype == "type99")
    assert tensor.numpy_dtype == np.uint8 and tensor.nbytes == tensor.elements


@pytest.mark.parametrize("code, name, itemsize", [(15, "uint32", 4), (16, "uint16", 2), (17, "int4", 1),
                                                  (18, "bfloat16", 1)])
def test_tensor_type_codes_follow_the_schema(code: int, name: str, itemsize: int) -> None:
    """The reader once named code 16 uint32, 17 uint16 and 18 int4 (the schema: 15 UINT32,
    16 UINT16, 17 INT4, 18 BFLOAT16), so a uint16 tensor counted 4 bytes per element."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from toolkit.model.reader import TENSOR_TYPES, load_model
    from toolkit.model.synth import ModelBuilder

    assert getattr(schema.TensorType, name.upper()) == code
    b = ModelBuilder()
    x = b.input((1, 6))
    y = b.unary("RELU", x)
    b.tensors[y].type = code
    model = load_model(b.build([x], [y]))
    assert model.tensors[y].dtype == name == TENSOR_TYPES[code][0]
    assert model.tensors[y].nbytes == 6 * itemsize or TENSOR_TYPES[code][1] is None


def test_custom_op_name_that_is_not_utf8_is_read_with_replacement_characters() -> None:
    from toolkit.model.reader import load_model

    model = load_model((corpus.regression_dir("tflite") / "custom_code_not_utf8").read_bytes())
    assert model.op_names[-1] == "CUSTOM:Flex\ufffd\ufffd"


def test_image_summary_with_a_rank_past_six_keeps_scale_and_zero_point_out_of_the_shape() -> None:
    """A header whose tensor summary says rank 7 (the format has six dims) once gave a shape that
    took in the scale and zero point, and a header that raised struct.error when packed again."""
    from toolkit.image.model_image import parse_header, verify_slot

    slot = (corpus.regression_dir("model_image") / "summary_rank_past_6").read_bytes()
    header = parse_header(slot)
    assert header.input.shape == (1, 2, 3, 4, 5, 6) and (header.input.scale, header.input.zero_point) == (0.5, -3)
    assert len(header.output.shape) == 6 and (header.output.scale, header.output.zero_point) == (0.25, 7)
    assert parse_header(header.pack() + slot[256:]) is not None
    assert verify_slot(slot) is not None  # the firmware accepts this slot too (targets checks both agree)


def test_model_that_shares_one_table_many_times_is_refused_at_once() -> None:
    """2.5 KB: one subgraph referenced 300 times, each referring to one tensor 300 times. Unpacked
    as it stands, 90,000 tensors: 6 s, and minutes for a 10 KB file (quadratic in the size)."""
    import time

    from toolkit.model.reader import load_model

    data = (corpus.regression_dir("tflite") / "tables_shared_300x300").read_bytes()
    started = time.perf_counter()
    with pytest.raises(ModelError, match="same tables over and over"):
        load_model(data)
    assert time.perf_counter() - started < 0.5


def _slots_reading(sequences: dict[str, int | None]):
    """Partitions and a flash reader whose model slots hold headers with these sequence numbers."""
    from toolkit.image import model_image
    from toolkit.image.partitions import find, load_csv

    partitions = load_csv()
    payload = b"x" * 32
    heads = {}
    for name, sequence in sequences.items():
        slot = find(partitions, name)
        heads[slot.offset] = (corpus.image_slot(payload, sequence) if sequence is not None else b"\xff" * 4096)
    return partitions, lambda offset, length: heads[offset][:length], model_image


@pytest.mark.parametrize("a, b, target, sequence", [
    (0xFFFFFFFF, None, "model_b", 0),  # once 2**32: struct.error when the image header was packed
    (0xFFFFFFFF, 0, "model_a", 1),     # 0 follows 0xFFFFFFFF: slot B is the newer, A is written
    (7, 7, "model_b", 8),              # a tie runs slot A on the firmware: never write over it
    (None, None, "model_a", 1),
    (3, 4, "model_a", 5),
])
def test_slot_choice_follows_the_firmware_past_the_last_sequence_number(a, b, target, sequence) -> None:
    """Fuzzing the firmware found that an upload over a slot at sequence 0xFFFFFFFF got sequence 0
    and lost to the old model at the next restart; the host (espml flash) crashed on the same
    board. Both now count in serial-number order (RFC 1982)."""
    partitions, read, model_image = _slots_reading({"model_a": a, "model_b": b})
    slot, chosen = model_image.choose_slot(read, partitions)
    assert (slot.name, chosen) == (target, sequence)
    model_image.ModelImageHeader(1, chosen, bytes(32), model_image.TensorSummary(9, (1,), 1.0, 0),
                                 model_image.TensorSummary(9, (1,), 1.0, 0)).pack()
    kept = a if target == "model_b" else b  # the slot left alone: the new image must be newer than it
    assert kept is None or model_image.is_newer(chosen, kept)
