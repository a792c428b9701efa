"""MicroPython boards: how well the agent streams inputs, and how fast a model reaches the filesystem.

On the virtual MicroPython board (real MicroPython under wasmtime) behind a link modelled at
921600 baud 8N1 (paced in wall-clock time):
  - payload_efficiency: one 96x96x3 int8 input (27,648 bytes) through the agent with SET_INPUT
    frames: payload bytes / wire bytes both ways (goal >= 0.9);
  - input_copy_ms beside invoke_ms: what one INVOKE of that model costs on the board, the agent's
    copy of the 27,648 elements into microlite (one setValue each) and TFLM's Invoke() (both
    simulated: the board's cost model);
  - copy_vs_line_rate: a 300 KB model file put on the board through the raw REPL (temporary name,
    hash on the board, rename): seconds / (bytes x 10 / baud) (goal <= 1.5).

    python bench/micropython.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.harness import Session  # noqa: E402
from toolkit.micropython import deploy  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.synth import image_input_model  # noqa: E402

BAUD = 921600
BITS_PER_BYTE = 10
SHAPE = (1, 96, 96, 3)
MODEL_BYTES = 300 * 1024


def input_streaming(url: str) -> dict:
    model = load_model(image_input_model(*SHAPE[1:]))
    deploy.deploy(url, model, baudrate=BAUD)
    sample = np.random.default_rng(0).integers(-128, 128, SHAPE, dtype=np.int8).tobytes()
    with Session.open(url, timeout=5.0) as session:
        session.hello()
        sent, received = session.bytes_sent, session.bytes_received
        started = time.perf_counter()
        session.set_input(0, sample)
        seconds = time.perf_counter() - started
        sent, received = session.bytes_sent - sent, session.bytes_received - received
        result = session.invoke(timeout=60.0)
    bound = len(sample) * BITS_PER_BYTE / BAUD
    return {"payload_bytes": len(sample), "wire_bytes_to_device": sent, "wire_bytes_from_device": received,
            "seconds": seconds, "line_rate_bound_s": bound, "payload_efficiency": len(sample) / (sent + received),
            "input_time_vs_bound": seconds / bound, "input_copy_ms": result.input_copy_us / 1000,
            "invoke_ms": result.latency_us / 1000}


def model_copy(url: str) -> dict:
    data = os.urandom(MODEL_BYTES)  # the copy does not parse what it carries
    with deploy.raw_repl(url, BAUD) as transport:
        started = time.perf_counter()
        deploy.put_file(transport, "bench_model.tflite", data)
        seconds = time.perf_counter() - started
    bound = len(data) * BITS_PER_BYTE / BAUD
    return {"bytes": len(data), "seconds": seconds, "line_rate_bound_s": bound, "copy_vs_line_rate": seconds / bound}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    url = f"vdev://esp32s3?firmware=micropython&baud={BAUD}&id=bench"
    streaming = input_streaming(url)
    copy = model_copy(url)
    results = {"baud": BAUD, "simulated": True, "input_streaming": streaming, "model_copy": copy,
               "payload_efficiency": streaming["payload_efficiency"], "copy_vs_line_rate": copy["copy_vs_line_rate"],
               "input_copy_ms": streaming["input_copy_ms"], "invoke_ms": streaming["invoke_ms"]}
    print(f"virtual MicroPython board, link {BAUD} baud 8N1 (modelled, paced in real time)")
    print(f"input {streaming['payload_bytes']:,} B: payload efficiency {streaming['payload_efficiency']:.4f} "
          f"(goal >= 0.9), {streaming['input_time_vs_bound']:.2f}x the line-rate bound")
    print(f"on the board per inference (simulated): input copy {streaming['input_copy_ms']:.1f} ms "
          f"({SHAPE[1] * SHAPE[2] * SHAPE[3]:,} setValue calls) beside Invoke() {streaming['invoke_ms']:.1f} ms")
    print(f"model copy {copy['bytes']:,} B in {copy['seconds']:.2f} s: {copy['copy_vs_line_rate']:.2f}x the "
          f"line-rate bound of {copy['line_rate_bound_s']:.2f} s (goal <= 1.5)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
