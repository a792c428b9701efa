from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.image.model_image import verify_slot

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "image" / "vectors.json"
CASES = json.loads(VECTORS.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict) -> None:
    found = verify_slot(bytes.fromhex(case["slot"]))
    assert (found is not None) == case["valid"]
    if found:
        header, payload = found
        assert header.sequence == case["sequence"] and len(payload) == case["payload_length"]


def test_vectors_file_is_what_the_generator_writes() -> None:
    before = VECTORS.read_text()
    subprocess.run([sys.executable, str(VECTORS.with_name("make_vectors.py"))], check=True, capture_output=True)
    assert VECTORS.read_text() == before
