"""COBS, frames and the stream decoder: round trips, resynchronisation, corruption."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.protocol import FLAG_RESPONSE, Frame, FrameDecoder, Garbage, encode_frame, wire_size
from toolkit.protocol.cobs import CobsError, cobs_decode, cobs_encode

frames = st.builds(Frame, type=st.integers(0, 255), seq=st.integers(0, 0xFFFF),
                   payload=st.binary(max_size=3000), flags=st.integers(0, 255))


@given(st.binary(max_size=2000))
def test_cobs_round_trip_and_no_zero(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data
    assert len(encoded) <= len(data) + len(data) // 254 + 1


@pytest.mark.parametrize("data, encoded", [
    (b"", b"\x01"), (b"\x00", b"\x01\x01"), (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
])
def test_cobs_known_encodings(data: bytes, encoded: bytes) -> None:
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


@pytest.mark.parametrize("bad", [b"\x05\x11", b"\x02\x00", b"\x00"])
def test_cobs_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(CobsError):
        cobs_decode(bad)


@given(st.lists(frames, min_size=1, max_size=5), st.data())
@settings(max_examples=60)
def test_frames_survive_any_chunking(sent: list[Frame], data) -> None:
    wire = b"".join(encode_frame(f) for f in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder, events, start = FrameDecoder(), [], 0
    for cut in cuts + [len(wire)]:
        events += decoder.feed(wire[start:cut])
        start = cut
    assert events == sent


@given(frames, st.binary(max_size=200).filter(lambda b: 0 not in b))
def test_garbage_before_a_frame_is_reported_then_the_frame_decodes(frame: Frame, noise: bytes) -> None:
    events = FrameDecoder().feed(noise + encode_frame(frame))
    assert events[-1] == frame
    assert all(isinstance(e, Garbage) for e in events[:-1])
    assert len(events) == (2 if noise else 1)


@given(frames, st.integers(min_value=0), st.integers(1, 255))
def test_any_single_byte_corruption_never_yields_a_wrong_frame(frame: Frame, where: int, xor: int) -> None:
    wire = bytearray(encode_frame(frame))
    index = 1 + where % (len(wire) - 2)
    wire[index] ^= xor
    events = FrameDecoder().feed(bytes(wire) + encode_frame(Frame(1, 2)))
    assert frame not in events[:-1] or bytes(wire) == encode_frame(frame)
    assert events[-1] == Frame(1, 2)


def test_decoder_drops_an_endless_run_without_delimiter() -> None:
    decoder = FrameDecoder(max_raw_frame=100)
    events = decoder.feed(b"\x41" * 1000)
    assert len(events) == 1 and isinstance(events[0], Garbage)
    assert decoder.feed(encode_frame(Frame(2, 9))) == [Frame(2, 9)]


def test_response_flag_and_wire_size() -> None:
    frame = Frame(0x11, 7, bytes([1]) * 1000, FLAG_RESPONSE)
    assert frame.is_response
    assert len(encode_frame(frame)) == wire_size(1000)


def test_crc_is_crc32_iso_hdlc() -> None:
    from toolkit.protocol import crc32

    assert crc32(b"123456789") == 0xCBF43926
