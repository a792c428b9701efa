"""What the espml firmware can run: the op list it registers (shared with the firmware build), and
the component versions its ESP-NN kernels come from."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

# The esp-tflite-micro and esp-nn releases that inspect's ESP-NN latency figures assume: the pair
# device/main/idf_component.yml pins exactly (tests/test_firmware_manifest.py keeps them equal).
# esp-tflite-micro 1.3.7 is the first whose CONV_2D reaches esp-nn 1.2.3's optimised ESP32-S3
# path; with older ones and esp-nn >= 1.2.3 every convolution runs ESP-NN's ANSI C kernel.
ESP_NN_COMPONENTS: dict[str, str] = {
    "espressif/esp-tflite-micro": "1.3.8",
    "espressif/esp-nn": "1.2.3",
}


@lru_cache(maxsize=1)
def firmware_ops() -> frozenset[str]:
    """The op names the firmware's op resolver registers: builtin names, and custom ops as
    ``CUSTOM:<custom code>`` (the kinds ``toolkit.model`` gives ops)."""
    text = resources.files("toolkit.boards").joinpath("firmware_ops.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
