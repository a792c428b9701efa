"""The firmware's portable C (protocol codec, CRC, model-image parser) against the shared vectors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOST_TEST = Path(__file__).resolve().parent.parent / "device" / "host_test"


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None, reason="no C compiler or make")
def test_c_codec_and_image_parser_pass_every_vector(tmp_path: Path) -> None:
    result = subprocess.run(["make", "-C", str(HOST_TEST), "test", f"BUILD={tmp_path}"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"^(\d+) passed, (\d+) failed$", result.stdout, re.MULTILINE)
    assert found, result.stdout
    passed, failed = map(int, found.groups())
    assert failed == 0 and passed >= 30, result.stdout


def test_every_manifest_op_has_a_resolver_mapping() -> None:
    """The ESP-IDF port registers every op of device/ops.txt; an op without a mapping in
    op_resolver.h would fail that build, so catch it here."""
    from toolkit.boards.firmware import firmware_ops

    header = (HOST_TEST.parent / "port" / "esp_idf" / "op_resolver.h").read_text()
    mapped = set(re.findall(r"#define ESPML_ADD_([A-Z0-9_]+)\(r\)", header))
    assert firmware_ops() <= mapped, sorted(firmware_ops() - mapped)


def test_generated_op_tables_match_ops_txt_and_the_schema() -> None:
    """device/core/espml_ops.inc (what the core accepts) is generated from device/ops.txt."""
    result = subprocess.run([sys.executable, str(HOST_TEST.parent / "core" / "gen_ops.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
