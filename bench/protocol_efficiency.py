"""How well the binary protocol uses a serial line, against the line-rate bound and MLPerf Tiny's hex text.

One 96x96x3 int8 input (27,648 bytes) goes to a virtual ESP32-S3 over a link modelled at
921600 baud 8N1 (10 bits a byte, paced in wall-clock time), three ways:
  - espml: SET_INPUT frames (COBS, CRC-32, chunks of the device's max payload), stop-and-wait;
  - the line-rate bound: 27,648 bytes x 10 bits / 921,600 bit/s, the least any scheme can take;
  - MLPerf Tiny's scheme: `db <62 hex chars>%` carrying 31 bytes, each answered by `m-ready`.
Goals (issue 2): payload efficiency >= 0.97, input time <= 1.1x the bound, >= 2x faster than hex.

    python bench/protocol_efficiency.py [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.harness import Session  # noqa: E402
from toolkit.model.synth import image_input_model  # noqa: E402
from toolkit.virtual.link import PacedPipe  # noqa: E402

BAUD = 921600
BITS_PER_BYTE = 10
SHAPE = (1, 96, 96, 3)
HEX_BYTES_PER_COMMAND = 31


def espml_input_time(sample: bytes, repeat: int) -> dict:
    url = f"vdev://esp32s3?baud={BAUD}&realtime=0"
    with Session.open(url, timeout=5.0) as session:
        session.hello()
        session.upload_model(image_input_model(*SHAPE[1:]))
        session.hello()
        times, sent, received = [], [], []
        for _ in range(repeat):
            s0, r0 = session.bytes_sent, session.bytes_received
            start = time.perf_counter()
            session.set_input(0, sample)
            times.append(time.perf_counter() - start)
            sent.append(session.bytes_sent - s0)
            received.append(session.bytes_received - r0)
    return {"seconds": statistics.median(times), "wire_bytes_to_device": sent[0], "wire_bytes_from_device": received[0]}


class HexTextDevice:
    """The device side of MLPerf Tiny's input loading: `db HEX...%` in, `m-ready` out."""

    def __init__(self, to_device: PacedPipe, to_host: PacedPipe) -> None:
        self.to_device, self.to_host = to_device, to_host
        self.received = bytearray()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        line = bytearray()
        while not self.stop.is_set():
            line += self.to_device.read_available(0.05)
            while b"%" in line:
                command, _, rest = bytes(line).partition(b"%")
                line = bytearray(rest)
                if command.startswith(b"db "):
                    self.received += bytes.fromhex(command[3:].decode())
                self.to_host.write(b"m-ready\r\n")


def hex_input_time(sample: bytes) -> dict:
    to_device, to_host = PacedPipe(BAUD), PacedPipe(BAUD)
    device = HexTextDevice(to_device, to_host)
    device.thread.start()
    sent = received = 0
    start = time.perf_counter()
    for offset in range(0, len(sample), HEX_BYTES_PER_COMMAND):
        command = b"db " + sample[offset:offset + HEX_BYTES_PER_COMMAND].hex().encode() + b"%"
        to_device.write(command)
        sent += len(command)
        reply = b""
        while not reply.endswith(b"m-ready\r\n"):
            reply += to_host.read(1, 5.0)
        received += len(reply)
    seconds = time.perf_counter() - start
    device.stop.set()
    assert bytes(device.received) == sample, "hex device received other bytes than were sent"
    return {"seconds": seconds, "wire_bytes_to_device": sent, "wire_bytes_from_device": received}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    sample = np.random.default_rng(0).integers(-128, 128, SHAPE, dtype=np.int8).tobytes()
    bound = len(sample) * BITS_PER_BYTE / BAUD
    ours = espml_input_time(sample, args.repeat)
    hex_text = hex_input_time(sample)
    total_wire = ours["wire_bytes_to_device"] + ours["wire_bytes_from_device"]
    results = {
        "simulated": True,  # a virtual board behind a modelled link
        "payload_bytes": len(sample),
        "baud": BAUD,
        "line_rate_bound_s": bound,
        "espml": ours,
        "hex_text": hex_text,
        "payload_efficiency": len(sample) / total_wire,
        "payload_efficiency_to_device": len(sample) / ours["wire_bytes_to_device"],
        "input_time_vs_bound": ours["seconds"] / bound,
        "speedup_vs_hex": hex_text["seconds"] / ours["seconds"],
    }
    print(f"one {SHAPE} int8 input, {len(sample):,} bytes, link {BAUD} baud 8N1 (modelled, paced in real time)")
    print(f"{'scheme':<22}{'wire bytes':>12}{'seconds':>10}{'x bound':>9}")
    print(f"{'line-rate bound':<22}{len(sample):>12,}{bound:>10.3f}{1.0:>9.2f}")
    print(f"{'espml frames':<22}{total_wire:>12,}{ours['seconds']:>10.3f}{ours['seconds'] / bound:>9.2f}")
    hex_wire = hex_text["wire_bytes_to_device"] + hex_text["wire_bytes_from_device"]
    print(f"{'MLPerf Tiny hex text':<22}{hex_wire:>12,}{hex_text['seconds']:>10.3f}{hex_text['seconds'] / bound:>9.2f}")
    print(f"payload efficiency {results['payload_efficiency']:.4f} (goal >= 0.97), "
          f"input time {results['input_time_vs_bound']:.3f}x bound (goal <= 1.1), "
          f"{results['speedup_vs_hex']:.2f}x faster than hex text (goal >= 2)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
