"""TFLite-Micro's signal library (the keyword-spotting audio front end) in the firmware: ops.txt,
the core's check, INFO, inspect, and a front-end model run on the virtual board (issue 18 item 7).

The virtual board runs its inference in the same ``tflite-micro`` interpreter as the host
reference, so "outputs equal" proves the transport and the firmware's acceptance of the model,
not the kernels; the tone test checks that what comes back is a power spectrum at all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from conftest import REFERENCE_MODEL
from signal_models import custom_op
from toolkit.boards import get_board
from toolkit.boards.firmware import firmware_ops
from toolkit.cli import main
from toolkit.model.inspect import inspect_model
from toolkit.model.reader import load_model
from toolkit.model.synth import ModelBuilder
from toolkit.protocol.messages import Info

ROOT = Path(__file__).resolve().parent.parent
FRAME = 64
BINS = FRAME // 2 + 1
INT16, UINT32, INT8, INT64 = 7, 15, 9, 4  # TensorType codes (FACTS.md)
SIGNAL_OPS = {"Delay", "Energy", "FftAutoScale", "FilterBank", "FilterBankLog", "FilterBankSpectralSubtraction",
              "FilterBankSquareRoot", "Framer", "Irfft", "OverlapAdd", "PCAN", "Rfft", "Stacker", "Window"}


def frontend_model(energy_op: str = "SignalEnergy") -> bytes:
    """int16 audio frame -> SignalWindow (Hann) -> SignalRfft -> SignalEnergy: uint32 power per bin.
    Options are flexbuffer maps, read by the kernels by index in key order (window.cc: 'shift';
    rfft.cc: 'T', 'fft_length'; energy.cc: 'end_index', 'start_index')."""
    b = ModelBuilder()
    audio = b._tensor((FRAME,), INT16, 1.0, 0, name="audio")
    hann = b._tensor((FRAME,), INT16, 1.0, 0, (np.hanning(FRAME) * 16384).astype(np.int16), name="hann")
    windowed = b._tensor((FRAME,), INT16, 1.0, 0, name="windowed")
    spectrum = b._tensor((2 * BINS,), INT16, 1.0, 0, name="spectrum")
    energy = b._tensor((BINS,), UINT32, 1.0, 0, name="energy")
    custom_op(b, "SignalWindow", [audio, hann], [windowed], {"shift": 14})
    custom_op(b, "SignalRfft", [windowed], [spectrum], {"T": INT16, "fft_length": FRAME})
    custom_op(b, energy_op, [spectrum], [energy], {"end_index": BINS, "start_index": 0})
    return b.build([audio], [energy], "espml KWS front end")


def kws_model(classes: int = 4) -> bytes:
    """The front end, then SignalFilterBankLog (uint32 -> int16 log energies, 'input_correction_bits',
    'output_scale') and a FULLY_CONNECTED classifier in int16x8 (int8 weights, int64 bias)."""
    b = ModelBuilder(seed=1)
    s = b.s
    audio = b._tensor((FRAME,), INT16, 1.0, 0, name="audio")
    hann = b._tensor((FRAME,), INT16, 1.0, 0, (np.hanning(FRAME) * 16384).astype(np.int16), name="hann")
    windowed = b._tensor((FRAME,), INT16, 1.0, 0, name="windowed")
    spectrum = b._tensor((2 * BINS,), INT16, 1.0, 0, name="spectrum")
    energy = b._tensor((BINS,), UINT32, 1.0, 0, name="energy")
    logs = b._tensor((BINS,), INT16, 1.0 / 64, 0, name="log_energy")
    custom_op(b, "SignalWindow", [audio, hann], [windowed], {"shift": 14})
    custom_op(b, "SignalRfft", [windowed], [spectrum], {"T": INT16, "fft_length": FRAME})
    custom_op(b, "SignalEnergy", [spectrum], [energy], {"end_index": BINS, "start_index": 0})
    custom_op(b, "SignalFilterBankLog", [energy], [logs], {"input_correction_bits": 0, "output_scale": 64})
    weights = b._tensor((classes, BINS), INT8, np.full(classes, 0.01, np.float32), np.zeros(classes, np.int64),
                        b.rng.integers(-127, 128, (classes, BINS), dtype=np.int8))
    bias = b._tensor((classes,), INT64, np.full(classes, 0.01 / 64, np.float32), np.zeros(classes, np.int64),
                     np.zeros(classes, np.int64))
    scores = b._tensor((1, classes), INT16, 0.05, 0, name="scores")
    b._op("FULLY_CONNECTED", [logs, weights, bias], [scores], s.BuiltinOptions.FullyConnectedOptions,
          s.FullyConnectedOptionsT())
    return b.build([audio], [scores], "espml KWS front end + classifier")


def tones(*bins: int) -> np.ndarray:
    t = np.arange(FRAME)
    return np.stack([(np.sin(2 * np.pi * k * t / FRAME) * 8000).astype(np.int16) for k in bins])


def test_ops_txt_registers_every_signal_op_through_the_resolvers_own_add_method() -> None:
    custom = {op[len("CUSTOM:Signal"):] for op in firmware_ops() if op.startswith("CUSTOM:")}
    assert custom == SIGNAL_OPS
    inc = (ROOT / "device/core/espml_custom_ops.inc").read_text()
    assert set(re.findall(r"^ESPML_CUSTOM_OP\(Signal(\w+)\)$", inc, re.MULTILINE)) == SIGNAL_OPS
    # each name maps to an Add method whose stand-in (esp-tflite-micro 1.3.8) registers that custom code
    resolver = (ROOT / "device/port/esp_idf/op_resolver.h").read_text()
    standin = (ROOT / "device/port/esp_idf/link_check/include/tensorflow/lite/micro/"
               "micro_mutable_op_resolver.h").read_text()
    for name in SIGNAL_OPS:
        method = re.search(rf"#define ESPML_ADD_Signal{name}\(r\) \(r\)\.(\w+)\(\)", resolver).group(1)
        body = re.search(rf"TfLiteStatus {method}\([^)]*\)[^{{]*{{\s*return AddCustom\(\s*\"(\w+)\"", standin)
        assert body and body.group(1) == f"Signal{name}", name


def test_inspect_runs_the_signal_front_end_and_still_refuses_an_unknown_custom_op() -> None:
    report = inspect_model(load_model(frontend_model()), get_board("esp32s3"))
    assert [op.kind for op in report.ops] == ["CUSTOM:SignalWindow", "CUSTOM:SignalRfft", "CUSTOM:SignalEnergy"]
    assert report.problems == [] and all(op.supported for op in report.ops)
    unknown = inspect_model(load_model(frontend_model("SignalEnergyV9")), get_board("esp32s3"))
    assert [p.op for p in unknown.problems] == ["SignalEnergyV9"]


def test_info_names_the_custom_ops_the_firmware_registers(tmp_path: Path) -> None:
    out = tmp_path / "info.json"
    assert main(["info", "--port", "vdev://esp32s3", "--json", str(out)]) == 0
    ops = json.loads(out.read_text())["ops"]
    assert {f"CUSTOM:Signal{name}" for name in SIGNAL_OPS} <= set(ops) and "CONV_2D" in ops


def test_info_from_firmware_without_the_custom_list_reads_as_none() -> None:
    info = Info(1, 0, 240, 4096, 0xFF, 0, bytes(32), 0, 0, 0, "fw", "1", "esp32s3", (3, 9), ("SignalRfft",))
    assert Info.unpack(info.pack()) == info
    old = info.pack()[:-len(b"\x01\x0aSignalRfft")]
    assert Info.unpack(old).custom_ops == () and Info.unpack(old).ops == ("CONV_2D", "FULLY_CONNECTED")


def _bench(model: bytes, tmp_path: Path) -> tuple[int, dict]:
    (tmp_path / "fe.tflite").write_bytes(model)
    np.save(tmp_path / "audio.npy", tones(3, 8, 20))
    out = tmp_path / "bench.json"
    code = main(["bench", "--port", "vdev://esp32s3?realtime=0", "--model", str(tmp_path / "fe.tflite"),
                 "--inputs", str(tmp_path / "audio.npy"), "--n", "6", "--json", str(out),
                 "--db", str(tmp_path / "r.sqlite")])
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_the_front_end_runs_on_the_virtual_board_with_outputs_equal_to_the_host(tmp_path: Path) -> None:
    code, summary = _bench(frontend_model(), tmp_path)
    assert code == 0
    assert summary["outputs_match_reference"] is True and summary["simulated"] is True and summary["n"] == 6


def test_the_front_end_turns_a_tone_into_a_spectrum_peaking_at_its_bin() -> None:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(frontend_model(), arena_size=16384)
    for k, frame in zip((3, 8, 20), tones(3, 8, 20)):
        interpreter.set_input(frame, 0)
        interpreter.invoke()
        energy = interpreter.get_output(0)
        assert energy.dtype == np.uint32 and energy.shape == (BINS,)
        assert int(np.argmax(energy)) == k


def test_a_custom_op_the_firmware_lacks_is_refused_by_name(tmp_path: Path, capsys) -> None:
    code, _ = _bench(frontend_model("SignalEnergyV9"), tmp_path)
    assert code != 0
    assert "SignalEnergyV9" in capsys.readouterr().err


def test_front_end_and_classifier_are_inspected_and_run_on_the_virtual_board(tmp_path: Path) -> None:
    model = kws_model()
    report = inspect_model(load_model(model), get_board("esp32s3"))
    assert report.ops[-1].kind == "FULLY_CONNECTED" and report.problems == [] and report.fits
    code, summary = _bench(model, tmp_path)
    assert code == 0 and summary["outputs_match_reference"] is True and summary["simulated"] is True


def test_inspect_counts_the_signal_kernels_state_and_calls_the_arena_exact() -> None:
    """The kernels' persistent state and the FFT's scratch are modelled (tests/test_signal_arena.py
    checks every op kind against the host TFLM): the front end's arena is no longer a lower bound."""
    facts = inspect_model(load_model(frontend_model()), get_board("esp32s3")).to_json()
    assert facts["arena_exact"] is True and facts["arena_uncounted_ops"] == []
    assert not any("lower bound" in line for line in facts["verdict"]["reasons"])
    assert inspect_model(load_model(REFERENCE_MODEL.read_bytes()), get_board("esp32s3")).to_json()["arena_exact"]
