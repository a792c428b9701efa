"""Per-op time on the board (a PROFILE request) next to inspect's estimate for the same op."""

from __future__ import annotations

import numpy as np

from toolkit.boards import get_board
from toolkit.errors import DeviceError, ToolkitError
from toolkit.harness.session import Session
from toolkit.model.inspect import inspect_model
from toolkit.model.reader import TFLiteModel, builtin_names

CUSTOM_CODE = 0xFF  # what the firmware sends for a custom op


def profile_ops(session: Session, model: TFLiteModel, tensor: np.ndarray, esp_nn: bool = True,
                timeout: float | None = None) -> dict:
    """Run one inference on ``tensor`` with every op timed on the board.

    Ops are paired with inspect's estimates by position until the first name that differs: a
    subgraph's ops run (and are timed) nested inside their calling op; from there on no estimate."""
    session.set_input(0, tensor.tobytes())
    try:
        result = session.profile(timeout)
    except DeviceError as exc:
        if exc.name != "UNKNOWN_TYPE":
            raise
        raise ToolkitError(f"this board cannot time single ops: {exc}",
                           "run without --profile, or flash firmware built from this toolkit's device/") from exc
    info = session.info_cache
    estimates = inspect_model(model, get_board(info.board), esp_nn).ops
    names = builtin_names()
    if result.op_count == 0:
        raise ToolkitError("the board timed no ops (its TFLite-Micro was built without profiler hooks, "
                           "TF_LITE_STRIP_ERROR_STRINGS)", "rebuild the firmware without that define to profile")
    ops = []
    paired = True  # until the first op whose name differs (a subgraph's ops run nested inside their caller)
    for index, (code, device_us) in enumerate(result.ops):
        name = "custom" if code == CUSTOM_CODE else names.get(code, f"UNKNOWN({code})")
        paired = paired and index < len(estimates) and estimates[index].kind == name
        ops.append({"index": index, "op": name, "device_us": device_us,
                    "estimated_us": round(estimates[index].estimated_us, 1) if paired else None})
    return {"simulated": bool(info.simulated), "esp_nn_estimate": esp_nn, "latency_us": result.latency_us,
            "op_count": result.op_count, "ops": ops}
