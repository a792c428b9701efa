"""The firmware's C under AddressSanitizer and UndefinedBehaviorSanitizer, driven by the tests that
drive it through the virtual board (a child pytest, since ASan's runtime must be preloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_firmware_core.py", "tests/test_virtual_session.py", "tests/test_protocol_vectors.py",
          "tests/test_flash.py::test_power_cut_sweep_never_leaves_a_corrupt_model_running"]


def asan_runtime() -> str | None:
    if shutil.which("cc") is None:
        return None
    path = subprocess.run(["cc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.mark.skipif(asan_runtime() is None, reason="the C compiler has no AddressSanitizer runtime")
def test_firmware_code_is_clean_under_address_and_undefined_behaviour_sanitizers() -> None:
    env = dict(os.environ, LD_PRELOAD=asan_runtime(), ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               ESPML_HOST_PORT_SANITIZE="address")
    check = "import ctypes; ctypes.CDLL(None).__asan_init"  # the runtime really is in the process
    assert subprocess.run([sys.executable, "-c", check], env=env, capture_output=True).returncode == 0
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "AddressSanitizer" not in output and "runtime error" not in output, output[-4000:]
