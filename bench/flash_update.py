"""A model-only update against a full flash (firmware + model), over a link modelled at 921600 baud.

Both go through `toolkit.flash.flash` (esptool's API: connect, stub, compressed write with
MD5 verification, reset) to a virtual ESP32-S3 whose serial link is paced at 921600 baud 8N1,
so seconds are wall-clock seconds a real link would take for the same bytes. The full flash
writes the bootloader, the partition table and a stand-in application image of 640 KiB (the
real firmware cannot be built here; 640 KiB is typical of an ESP-IDF app with esp-tflite-micro
and ESP-NN, and its content deflates about as much as code does) plus the model.

Goals (issue 5): wire bytes of the model write at most 1.05x the deflated image size; a
model-only update at least 3x faster than a full flash for the reference model.

    python bench/flash_update.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.boards import get_board  # noqa: E402
from toolkit.flash import Write, _connect, esptool_quiet, flash  # noqa: E402
from toolkit.image import app_image  # noqa: E402
from toolkit.image.model_image import build_image  # noqa: E402
from toolkit.image.partitions import TABLE_OFFSET, app_partition, load_csv, to_binary  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.virtual.protocol_vdev import board_for_url  # noqa: E402

BAUD = 921600
APP_BYTES = 640 * 1024
MODEL = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"


def stand_in_app() -> bytes:
    """An application image of APP_BYTES whose payload has code-like entropy (about 5.5 bits a byte)."""
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 257) ** 0.9
    body = rng.choice(256, size=APP_BYTES - 1024, p=weights / weights.sum()).astype(np.uint8).tobytes()
    return app_image.build_image([(app_image.DROM_ADDRESS, app_image.app_description("espml-fw", "0.1.0")),
                                  (app_image.IRAM_ENTRY, body)])


def timed(url: str, board, **kwargs) -> dict:
    pipe = board_for_url(url).to_device
    sent = pipe.bytes_written
    start = time.perf_counter()
    result = flash(url, board, after="watchdog-reset", **kwargs)
    return {"seconds": time.perf_counter() - start, "wire_bytes_to_device": pipe.bytes_written - sent,
            "written_bytes": sum(w["bytes"] for w in result.writes),
            "deflated_bytes": sum(w["deflated_bytes"] for w in result.writes)}


def model_write_wire_bytes(url: str, image: bytes) -> dict:
    """Host-to-board bytes of the compressed write alone (no connect, stub or reset)."""
    from esptool.cmds import attach_flash, write_flash

    pipe = board_for_url(url).to_device
    with esptool_quiet():
        esp = _connect(url, "default-reset", stub=True)
        try:
            attach_flash(esp)
            sent = pipe.bytes_written
            write_flash(esp, [(0x300000, image)], compress=True)
            wire = pipe.bytes_written - sent
        finally:
            esp._port.close()
    return {"wire_bytes": wire, "deflated_bytes": len(zlib.compress(image, 9))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    url = f"vdev://esp32s3?baud={BAUD}&realtime=0&sync_enters_download=1&id=bench"
    board = get_board("esp32s3")
    model = load_model(MODEL)
    partitions = load_csv()
    firmware = [Write("bootloader", 0x0, app_image.build_bootloader()),
                Write("partition table", TABLE_OFFSET, to_binary(partitions)),
                Write("application (stand-in)", app_partition(partitions).offset, stand_in_app())]
    full = timed(url, board, model=model, firmware=firmware)
    time.sleep(1.0)  # let the watchdog reset fire and the firmware boot, as between two real updates
    model_only = timed(url, board, model=model)
    time.sleep(1.0)
    write = model_write_wire_bytes(url, build_image(model, 99))
    results = {
        "simulated": True,  # a virtual board behind a modelled link
        "baud": BAUD, "model_bytes": model.size, "app_bytes": APP_BYTES,
        "full_flash": full, "model_only": model_only, "model_write": write,
        "wire_vs_deflated": write["wire_bytes"] / write["deflated_bytes"],
        "session_wire_vs_deflated": model_only["wire_bytes_to_device"] / model_only["deflated_bytes"],
        "speedup_vs_full_flash": full["seconds"] / model_only["seconds"],
    }
    print(f"link {BAUD} baud 8N1 (modelled, paced in real time); reference model {model.size:,} bytes")
    print(f"{'update':<24}{'written':>10}{'deflated':>10}{'wire->board':>13}{'seconds':>9}")
    for name, row in (("full flash (fw+model)", full), ("model only", model_only)):
        print(f"{name:<24}{row['written_bytes']:>10,}{row['deflated_bytes']:>10,}{row['wire_bytes_to_device']:>13,}"
              f"{row['seconds']:>9.2f}")
    print(f"model write alone: {write['wire_bytes']:,} wire bytes for {write['deflated_bytes']:,} deflated "
          f"= {results['wire_vs_deflated']:.3f}x (goal <= 1.05); whole model-only session "
          f"{results['session_wire_vs_deflated']:.3f}x (connect, stub upload, header reads, reset included)")
    print(f"model-only update {results['speedup_vs_full_flash']:.2f}x faster than a full flash (goal >= 3)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
