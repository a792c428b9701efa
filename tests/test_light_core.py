"""Flashing, benchmarking, inspection and the virtual board need only the light core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK_HEAVY = """
import sys, runpy
HEAVY = ("torch", "tensorflow", "onnx", "onnx2tf", "sklearn", "onnxruntime")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"{name} is not part of the light core")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["espml"] + sys.argv[1:]
from toolkit.cli import main
sys.exit(main())
"""


def espml_without_heavy_packages(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_HEAVY, *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)


def test_inspect_flash_bench_and_demo_run_without_the_convert_extra(tmp_path: Path) -> None:
    model = str(ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite")
    inputs = str(ROOT / "fixtures" / "reference" / "heldout_nhwc")
    assert espml_without_heavy_packages(tmp_path, "inspect", model).returncode == 0
    url = "vdev://esp32s3?realtime=0"
    result = espml_without_heavy_packages(tmp_path, "bench", "--port", url, "--model", model, "--inputs", inputs,
                                          "--n", "4")
    assert result.returncode == 0, result.stderr
    result = espml_without_heavy_packages(tmp_path, "demo", "--n", "5")
    assert result.returncode == 0, result.stderr
    assert "bundled fixture" in result.stdout and "flashed with esptool" in result.stdout
    result = espml_without_heavy_packages(tmp_path, "optimize", "--model", "toolkit.reference:build_reference_cnn")
    assert result.returncode == 6 and "espml[convert]" in result.stderr


def test_a_virtual_board_without_a_c_compiler_says_what_to_install(tmp_path: Path) -> None:
    """The virtual board runs the firmware's C, built on first use; real boards need no compiler."""
    import os

    env = dict(os.environ, CC=str(tmp_path / "no-such-cc"), ESPML_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "info", "--port", "vdev://esp32s3"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 3
    assert "needs a C compiler" in result.stderr and "apt-get install gcc" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
