"""Energy per inference: the window arithmetic on synthetic traces of known energy, the virtual
PPK2 through our driver at the PPK2's full rate, and the reference model on the virtual board
measured by the (virtual) instrument against the board's own figure (both simulated).

Goals (issue 21): energy_error_pct <= 1 on the synthetic traces; samples_per_s >= 100,000 sustained
with lost_samples 0.

    python bench/energy.py [--seconds 5] [--n 50] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.power.synthetic import Shape, make_trace  # noqa: E402
from toolkit.power.windows import energy_per_inference  # noqa: E402

CASES = {  # name: (shape, windows, group)
    "steps_2ms": (Shape(), 50, 1),
    "ramps_3ms": (Shape(idle_ma=30, ramp_from_ma=50, peak_ma=150, window_s=0.003, period_s=0.006), 50, 1),
    "noise_3ma": (Shape(noise_ma=3.0), 50, 1),
    "short_43us_grouped": (Shape(window_s=0.000043, period_s=0.000203, peak_ma=120, noise_ma=3.0), 2000, None),
    "edge_phases_0.5ms": (Shape(window_s=0.000517, period_s=0.0013), 200, 1),
}


def synthetic() -> dict:
    figures = {}
    for name, (shape, windows, group) in CASES.items():
        result = energy_per_inference(make_trace(shape, windows, seed=11), group=group)
        figures[name] = {"expected_uj": shape.net_uj(), "measured_uj": result.energy_uj, "group": result.group,
                         "error_pct": abs(result.energy_uj - shape.net_uj()) / shape.net_uj() * 100}
    return figures


class Pulses:
    def sample(self, times_s):
        import numpy as np

        inside = (times_s % 0.01) < 0.003
        return np.where(inside, 85.0, 45.0), inside.astype(np.uint8)


def driver_rate(seconds: float) -> dict:
    """The virtual PPK2 on a pty (100 kS/s) read by our driver for ``seconds``."""
    from toolkit.power.ppk2 import PPK2Meter
    from toolkit.power.virtual_ppk2 import PtyServer

    with PtyServer(Pulses()) as server:
        meter = PPK2Meter(server.path)
        meter.open()
        meter.start()
        started = time.monotonic()
        parts = []
        while time.monotonic() - started < seconds:
            time.sleep(0.2)
            parts.append(meter.samples())
        elapsed = time.monotonic() - started  # the device streams from start() until stop()
        meter.stop()
        parts.append(meter.samples())
        data = bytes(4 * 1_000_000)
        meter._counter = None
        decode_started = time.perf_counter()
        meter.decode(data)
        decode_rate = 1_000_000 / (time.perf_counter() - decode_started)
        meter.close()
        produced, dropped_by_device = server.ppk2.produced, server.ppk2.lost
    samples = sum(len(p) for p in parts)
    lost = sum(p.lost_samples for p in parts)
    return {"samples": samples, "seconds": elapsed, "samples_per_s": samples / elapsed, "lost_samples": lost,
            "device_produced": produced, "device_dropped": dropped_by_device,
            "decode_samples_per_s": decode_rate}  # the driver's headroom: decoding alone


def reference_model(n: int) -> dict:
    """The reference model on the virtual board: the virtual PPK2's figure against the board's own."""
    from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench
    from toolkit.harness.inputs import model_inputs
    from toolkit.harness.power import PowerPlan
    from toolkit.model import load_model
    from toolkit.power.ppk2 import PPK2Meter
    from toolkit.virtual.protocol_vdev import _SHARED

    model_path = ROOT / "fixtures" / "reference" / "digits_cnn_int8.tflite"
    model = load_model(model_path)
    samples = model_inputs(str(ROOT / "fixtures" / "reference" / "heldout_nhwc"), model, str(model_path), None)
    with tempfile.TemporaryDirectory() as folder, Session.open("vdev://esp32s3?id=energy-bench") as session:
        meter = PPK2Meter("vppk2://energy-bench")
        meter.open()
        store = ResultsStore(Path(folder) / "r.sqlite")
        summary = run_bench(session, model, samples, BenchPlan(n, 1), store, "vdev://esp32s3",
                            power=PowerPlan(meter, "ppk2:vppk2://energy-bench"))
        meter.close()
        store.close()
    _SHARED.pop("energy-bench").close()
    power = summary["power"]
    board = summary["energy_uj_per_inference"]
    return {"simulated": power["simulated"] and summary["simulated"], "board_uj": board,
            "instrument_gross_uj": power["energy_gross_uj"], "instrument_above_idle_uj": power["energy_uj"],
            "instrument_vs_board": power["energy_gross_uj"] / board, "spread_uj": power["spread_uj"],
            "windows": power["windows"], "group": power["group"], "lost_samples": power["lost_samples"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the driver reads the virtual PPK2")
    parser.add_argument("--n", type=int, default=50, help="inferences of the reference model")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-' for stdout)")
    args = parser.parse_args()
    cases = synthetic()
    rate = driver_rate(args.seconds)
    reference = reference_model(args.n)
    figures = {
        "energy_error_pct": max(c["error_pct"] for c in cases.values()), "synthetic": cases,
        "samples_per_s": rate["samples_per_s"], "lost_samples": rate["lost_samples"], "driver": rate,
        "reference_model": reference,
        "goals": {"energy_error_pct": 1.0, "samples_per_s": 100_000, "lost_samples": 0},
    }
    text = json.dumps(figures, indent=2)
    if args.json and args.json != "-":
        Path(args.json).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
