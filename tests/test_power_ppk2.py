"""Our PPK2 driver: the protocol's pieces, and the driver against the virtual PPK2 on a pty, cross-checked
against a third-party PPK2 library (ppk2-api) reading the same virtual instrument."""

from __future__ import annotations

import time

import numpy as np
import pytest

from toolkit.power import ppk2_protocol as pp
from toolkit.power.errors import MeterNotFound, WrongDevice
from toolkit.power.ppk2 import PPK2Meter
from toolkit.power.virtual_ppk2 import SIMULATED_CALIBRATION, PtyServer
from toolkit.power.windows import energy_per_inference


class Pulses:
    """A board that draws 85 mA for 3 ms every 10 ms over 45 mA idle, marker on D0, after 0.3 s idle."""

    def __init__(self) -> None:
        self.idle_until = time.monotonic() + 0.3  # past open() (metadata, drain)

    def sample(self, times_s):
        inside = ((times_s % 0.01) < 0.003) & (times_s > self.idle_until)
        return np.where(inside, 85.0, 45.0), inside.astype(np.uint8)


def test_sample_words_round_trip_through_the_bit_layout():
    adc, ranges, counter, logic = np.array([0, 0x3FFF, 1234]), np.array([0, 4, 3]), np.array([0, 63, 5]), \
        np.array([0, 0xFF, 1], dtype=np.uint8)
    data = pp.encode_words(adc, ranges, counter, logic)
    assert data[4:8] == (0x3FFF | 4 << 14 | 63 << 18 | 0xFF << 24).to_bytes(4, "little")
    for got, want in zip(pp.decode_words(data), (adc, ranges, counter, logic)):
        assert np.array_equal(got, want)


def test_counter_gaps_count_missing_samples_across_the_wrap():
    counter = np.array([61, 62, 63, 2, 3, 10])  # 0 and 1 lost across the wrap, then 4..9
    at, missing = pp.counter_gaps(counter, previous=60)
    assert list(at) == [3, 5] and list(missing) == [2, 6]
    assert list(pp.counter_gaps(counter[:3], previous=55)[1]) == [5]  # a gap before this read too


def test_calibration_inverts_on_every_range():
    amps = np.array([2e-4, 3e-3, 5e-2, 0.3, 2.0])
    ranges = np.arange(5)
    fields = SIMULATED_CALIBRATION.adc_field(amps, ranges)
    assert np.allclose(SIMULATED_CALIBRATION.current_a(fields, ranges), amps, rtol=1e-9)


def test_the_regulator_takes_big_endian_millivolts():
    assert pp.regulator_command(3300) == bytes([0x0D, 0x0C, 0xE4])
    with pytest.raises(ValueError):
        pp.regulator_command(6000)


def test_metadata_without_a_coefficient_is_not_a_ppk2():
    text = pp.format_metadata(SIMULATED_CALIBRATION, {}).decode()
    assert pp.parse_metadata(text) == pp.Calibration(**{**SIMULATED_CALIBRATION.__dict__, "simulated": False})
    with pytest.raises(pp.MetadataError, match="GS3"):
        pp.parse_metadata(text.replace("GS3:", "XX:"))
    with pytest.raises(pp.MetadataError, match="END"):
        pp.parse_metadata(text.replace("END", ""))


def test_our_driver_reads_the_virtual_ppk2_without_loss_and_integrates_the_pulses():
    with PtyServer(Pulses(), seed=1) as server:
        meter = PPK2Meter(server.path)
        meter.open()
        assert meter.simulated and meter.calibration.R == SIMULATED_CALIBRATION.R
        meter.start()
        time.sleep(0.6)
        meter.stop()
        trace = meter.samples()
        meter.close()
        assert server.ppk2.mode == pp.AMPERE_MODE and server.ppk2.vdd_mv == 3300
    assert trace.simulated and trace.lost_samples == 0 and len(trace) > 0.5 * pp.RATE_HZ
    assert np.allclose(np.diff(trace.time_s), 1 / pp.RATE_HZ)
    result = energy_per_inference(trace, group=1)
    assert abs(result.energy_uj - 40 * 3.3 * 3.0) < 0.01 * 396 and abs(result.idle_ma - 45) < 0.1


def test_a_reader_that_falls_behind_sees_counter_gaps_as_lost_samples():
    with PtyServer(Pulses()) as server:
        meter = PPK2Meter(server.path)
        meter.open()
        meter.start()
        time.sleep(0.2)
        data = bytearray()
        with meter._lock:  # what the reader thread has so far, then skip 37 words as a lost USB packet would
            data += meter._buffer
            meter._buffer.clear()
        meter.stop()
        meter.close()
    words = len(data) // 4
    assert words > 400
    lossy = bytes(data[:800]) + bytes(data[948:words * 4])
    meter._counter, meter._index = None, 0
    trace = meter.decode(lossy)
    assert trace.lost_samples == 37 and trace.gaps == [(200, 37)]
    assert trace.time_s[200] - trace.time_s[199] == pytest.approx(38 / pp.RATE_HZ)  # the timeline keeps the gap


def test_a_port_without_a_ppk2_is_one_line():
    with pytest.raises(MeterNotFound, match="cannot open the PPK2 port /dev/nonexistent-ppk2"):
        PPK2Meter("/dev/nonexistent-ppk2").open()
    with pytest.raises(WrongDevice, match="no PPK2 answers on vdev://esp32s3"):
        PPK2Meter("vdev://esp32s3").open()


def test_ppk2_api_reads_the_same_metadata_and_currents_as_our_driver():
    ppk2_api = pytest.importorskip("ppk2_api.ppk2_api", reason="ppk2-api is in the test extra")
    with PtyServer(Pulses(), seed=2) as server:
        theirs = ppk2_api.PPK2_API(server.path, timeout=1, write_timeout=1)
        assert theirs.get_modifiers()
        theirs.use_ampere_meter()
        theirs.set_source_voltage(3300)
        theirs.start_measuring()
        raw = bytearray()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            raw += theirs.get_data()
            time.sleep(0.01)
        theirs.stop_measuring()
        assert server.ppk2.vdd_mv == 3300 and server.ppk2.mode == pp.AMPERE_MODE  # its commands, our parser
        their_ua, their_logic = theirs.get_samples(bytes(raw))
        theirs.ser.close()
    for family in pp.FAMILIES:
        assert [theirs.modifiers[family][str(r)] for r in range(5)] == pytest.approx(getattr(SIMULATED_CALIBRATION, family))
    ours = PPK2Meter(server.path)
    ours.calibration = pp.parse_metadata(pp.format_metadata(SIMULATED_CALIBRATION, {}).decode())
    trace = ours.decode(bytes(raw[:len(raw) // 4 * 4]))
    assert len(trace) == len(their_ua) > 20000 and trace.lost_samples == 0
    assert np.array_equal(trace.logic, np.array(their_logic, dtype=np.uint8))
    ranges = pp.decode_words(bytes(raw))[1]
    steady = np.ones(len(ranges), bool)  # ppk2-api filters the samples right after a range switch
    for lag in range(1, 5):
        steady[lag:] &= ranges[lag:] == ranges[:-lag]
    assert steady.sum() > 0.9 * len(steady)
    assert np.allclose(trace.current_ma[steady], np.array(their_ua)[steady] / 1000, rtol=1e-9)
