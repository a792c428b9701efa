"""Our Joulescope driver at the joulescope package's boundary (there is no simulated Joulescope): a
fake of the package's v1 device (tests/fake_joulescope.py) stands in for the instrument; where the
real package is installed, the names the fake stands for are checked against it."""

from __future__ import annotations

import importlib
import inspect
import sys
import time

import numpy as np
import pytest

import fake_joulescope
from fake_joulescope import FakeDevice
from toolkit.cli import main
from toolkit.power.errors import MeterNotFound, PowerError, SaturatedTrace, WrongDevice
from toolkit.power.meter import make_meter
from toolkit.power.windows import energy_per_inference

IDLE_A, BUSY_A, PERIOD_S, BUSY_S, IDLE_UNTIL_S = 0.045, 0.085, 0.01, 0.003, 0.3
PULSE_UJ = (BUSY_A - IDLE_A) * 3.3 * BUSY_S * 1e6  # 396 uJ above idle per pulse


def pulses(since_start_s):
    """85 mA for 3 ms every 10 ms over 45 mA idle, GPI0 high inside, after 0.3 s of idle."""
    inside = ((since_start_s % PERIOD_S) < BUSY_S) & (since_start_s > IDLE_UNTIL_S)
    return np.where(inside, BUSY_A, IDLE_A), inside.astype(np.uint8)


@pytest.fixture
def joulescope(monkeypatch):
    """Install a fake joulescope package with the given devices; the driver module imports it anew."""

    def install(*devices: FakeDevice):
        fake = fake_joulescope.module(*devices)
        monkeypatch.setitem(sys.modules, "joulescope", fake)
        monkeypatch.delitem(sys.modules, "toolkit.power.joulescope", raising=False)
        return fake

    return install


def capture(meter, seconds: float):
    meter.open()
    try:
        meter.start()
        time.sleep(seconds)
        meter.stop()
        return meter.samples()
    finally:
        meter.close()


@pytest.mark.parametrize("model", ["js220", "js110"])
def test_the_marker_on_gpi0_cuts_windows_of_the_right_energy(model, joulescope):
    device = FakeDevice(pulses, model=model)
    fake = joulescope(device)
    meter = make_meter("joulescope")
    trace = capture(meter, 0.8)
    assert fake.scanned == ["auto"]  # the package's defaults: JS110 source on, auto ranging
    assert device.parameters["sampling_frequency"] == 100_000 and device.parameters["i_range"] == "auto"
    assert (device.parameters.get("current_lsb") == "gpi0") == (model == "js110")  # the JS110 maps GPI0 to an LSB
    assert trace.rate_hz == 100_000 and not trace.simulated and trace.lost_samples == 0
    assert np.all(np.diff(trace.time_s) > 0) and trace.source == f"joulescope:{model.upper()}-000415"
    result = energy_per_inference(trace)
    assert result.windows >= 30 and result.dropped_windows["data_loss"] == 0
    assert result.energy_uj == pytest.approx(PULSE_UJ, rel=0.01)
    assert result.idle_ma == pytest.approx(IDLE_A * 1000, rel=1e-4)
    assert result.window_us_median == pytest.approx(BUSY_S * 1e6, abs=20)
    assert device.closed_objects == []  # the package never had to drop our stream process object


def test_samples_the_package_never_received_are_lost_samples_and_their_window_is_dropped(joulescope):
    skip = (int(0.45 * 100_000), 250)  # 2.5 ms of NaN, inside the pulses
    joulescope(FakeDevice(pulses, skip=skip))
    trace = capture(make_meter("joulescope"), 0.8)
    assert trace.lost_samples == 250 and len(trace.gaps) == 1
    assert np.isfinite(trace.current_ma).all()
    result = energy_per_inference(trace)
    assert result.dropped_windows["data_loss"] >= 1 and result.lost_samples == 250
    assert result.energy_uj == pytest.approx(PULSE_UJ, rel=0.01)


def test_a_span_the_buffer_overwrote_before_it_was_read_is_counted_lost(joulescope):
    joulescope(FakeDevice(pulses, buffer_s=0.05, stall=(0.4, 0.2)))  # the host does not read for 200 ms
    trace = capture(make_meter("joulescope"), 0.8)
    assert trace.lost_samples >= 0.1 * 100_000
    assert sum(missing for _, missing in trace.gaps) == trace.lost_samples
    assert len(trace) + trace.lost_samples == pytest.approx((trace.time_s[-1] - trace.time_s[0]) * 100_000 + 1)


def test_current_at_the_top_ranges_full_scale_is_a_saturated_trace(joulescope):
    def overloaded(since_start_s):
        amps, gpi0 = pulses(since_start_s)
        return np.where(gpi0.astype(bool) & (since_start_s > 0.5), 10.0, amps), gpi0  # a short on the board

    joulescope(FakeDevice(overloaded))
    trace = capture(make_meter("joulescope"), 0.8)
    assert trace.saturated.any() and not trace.saturated[trace.time_s < trace.time_s[0] + 0.45].any()
    with pytest.raises(SaturatedTrace, match="range was exceeded in"):
        energy_per_inference(trace)


def test_the_serial_picks_one_of_several(joulescope):
    joulescope(FakeDevice(pulses, serial="000415"), FakeDevice(pulses, serial="002211"))
    with pytest.raises(PowerError, match=r"2 Joulescopes are plugged in .*JS220-000415.*JS220-002211"):
        make_meter("joulescope").open()
    meter = make_meter("joulescope:002211")
    meter.open()
    assert str(meter.device) == "JS220-002211"
    meter.close()
    with pytest.raises(MeterNotFound, match="no Joulescope with serial 009999"):
        make_meter("joulescope:009999").open()


def test_a_device_that_is_not_a_js110_or_js220_is_refused(joulescope):
    joulescope(FakeDevice(pulses, model="js320"))
    with pytest.raises(WrongDevice, match="not a JS110 or JS220"):
        make_meter("joulescope").open()


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING", "W espml"))]
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and "Traceback" not in err, err
    return lines[0]


def bench_args(tmp_path, spec: str) -> list[str]:
    from conftest import FIXTURES, REFERENCE_MODEL

    return ["bench", "--port", "vdev://esp32s3", "--model", str(REFERENCE_MODEL), "--inputs",
            str(FIXTURES / "reference" / "heldout_nhwc"), "--n", "2", "--db", str(tmp_path / "r.sqlite"),
            "--power", spec]


@pytest.mark.parametrize("case, devices, words", [
    ("none plugged in", [], "no Joulescope on USB"),
    ("held by another program", [FakeDevice(pulses, open_error="device busy")], "cannot open the Joulescope"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bench_with_no_usable_joulescope_is_one_line_exit_10(case, devices, words, joulescope, tmp_path, capsys):
    joulescope(*devices)
    assert main(bench_args(tmp_path, "joulescope")) == 10, case
    assert words in one_line(capsys)


def test_without_the_joulescope_package_bench_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "joulescope", None)  # import joulescope fails as when not installed
    monkeypatch.delitem(sys.modules, "toolkit.power.joulescope", raising=False)
    assert main(bench_args(tmp_path, "joulescope")) == 6
    line = one_line(capsys)
    assert "needs joulescope" in line and "pip install 'espml[power]'" in line


def test_the_fake_stands_for_the_real_packages_names():
    """Where joulescope is installed (1.1.15 and 1.5.0 pass): the methods, fields and parameter values we use exist."""
    real = pytest.importorskip("joulescope")
    from joulescope.parameters_v1 import PARAMETERS_DICT
    from joulescope.v1.device import Device
    from joulescope.v1.stream_buffer import FIELDS, StreamBuffer

    assert callable(real.scan) and "config" in inspect.signature(real.scan).parameters
    for name in ("open", "close", "parameter_set", "stream_process_register", "stream_process_unregister", "start",
                 "stop"):
        assert list(inspect.signature(getattr(Device, name)).parameters) == \
            list(inspect.signature(getattr(FakeDevice, name)).parameters), name
    for name in ("model", "serial_number", "output_sampling_frequency"):
        assert isinstance(getattr(Device, name), property), name
    assert list(inspect.signature(StreamBuffer.samples_get).parameters) == ["self", "start", "stop", "fields"]
    assert FIELDS["current_lsb"][0] == (5, 0) and FIELDS["voltage_lsb"][0] == (5, 1)  # the GPI0 / GPI1 buffers
    driver = importlib.import_module("toolkit.power.joulescope")
    assert set(driver.FIELDS) <= set(FIELDS)
    values = {"sampling_frequency": 100_000, "i_range": "auto", "v_range": "15V", "io_voltage": "3.3V",
              "current_lsb": "gpi0", "voltage_lsb": "gpi1"}
    for name, value in values.items():
        option_names = [alias for option in PARAMETERS_DICT[name].options for alias in
                        [option[0], option[1], *(option[2] if len(option) > 2 else [])]]
        assert value in option_names, name


def test_our_stream_copy_reads_the_real_packages_stream_buffer():
    """Where joulescope is installed: the package's own StreamBuffer, fed as its driver feeds it (2 MS/s
    decimated by 20 on the instrument, GPIs as packed bits), with a span it never received."""
    pytest.importorskip("joulescope")
    from joulescope.v1.stream_buffer import StreamBuffer

    from toolkit.power.joulescope import StreamCopy

    buffer = StreamBuffer(1.0, 2_000_000, "js220", output_frequency=100_000)
    n, first = 4000, 123_456 * 20
    amps = np.linspace(0.01, 0.05, n).astype(np.float32)
    gpi0 = (np.arange(n) % 100 < 30).astype(np.uint8)

    def put(sample_id: int, amps: np.ndarray, gpi0: np.ndarray) -> None:
        for (field, index), data in {(1, 0): amps, (2, 0): np.full(len(amps), 3.3, np.float32), (3, 0): amps * 3.3,
                                     (4, 0): np.full(len(amps), 2, np.uint8),
                                     (5, 0): np.packbits(gpi0, bitorder="little"),
                                     (5, 1): np.packbits(np.zeros(len(amps), np.uint8), bitorder="little")}.items():
            buffer.insert("s/x/!data", {"field_id": field, "index": index, "sample_id": sample_id, "data": data,
                                        "sample_rate": 2_000_000, "decimate_factor": 20})

    put(first, amps, gpi0)
    copy = StreamCopy(100_000.0)
    copy.stream_notify(buffer)
    put(first + (n + 504) * 20, amps, gpi0)  # 504 samples never arrived (a multiple of 8: the GPIs are bits)
    copy.stream_notify(buffer)
    trace = copy.trace("joulescope:JS220-000415")
    assert len(trace) == 2 * n and trace.gaps == [(n, 504)]
    assert np.allclose(trace.current_ma, np.tile(amps, 2) * 1000) and np.allclose(trace.voltage_v, 3.3)
    assert np.array_equal(trace.logic & 1, np.tile(gpi0, 2))
    assert trace.time_s[n] - trace.time_s[n - 1] == pytest.approx(505 / 100_000)
