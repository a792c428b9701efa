"""The shared vectors in fixtures/protocol: the Python codec must agree with every case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.protocol import Frame, FrameDecoder, Garbage, encode_frame

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "protocol" / "vectors.json"
CASES = json.loads(VECTORS.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_decodes_as_recorded(case: dict) -> None:
    events = FrameDecoder().feed(bytes.fromhex(case["wire"]))
    assert len(events) == len(case["events"])
    for got, want in zip(events, case["events"]):
        if "garbage" in want:
            assert isinstance(got, Garbage)
        else:
            f = want["frame"]
            assert got == Frame(f["type"], f["seq"], bytes.fromhex(f["payload"]), f["flags"], f["version"])


@pytest.mark.parametrize("case", [c for c in CASES if len(c["events"]) == 1 and "frame" in c["events"][0]],
                         ids=lambda c: c["name"])
def test_encoder_reproduces_vector_bytes(case: dict) -> None:
    f = case["events"][0]["frame"]
    assert encode_frame(Frame(f["type"], f["seq"], bytes.fromhex(f["payload"]), f["flags"], f["version"])).hex() == case["wire"]


def test_vectors_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    script = VECTORS.with_name("make_vectors.py")
    before = VECTORS.read_text()
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    assert VECTORS.read_text() == before, "vectors.json is stale: run fixtures/protocol/make_vectors.py and commit"
