"""Updates in the field: a model by the protocol and by esptool, and the firmware, each followed by
the board still answering and running what it should. On a MicroPython board (``--espml-target
micropython``) a model goes onto its filesystem through the raw REPL instead of the protocol, and
esptool updates MicroPython itself (``--espml-firmware`` a MicroPython build folder) through the
chip's ROM loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.hil.suite import SuiteModel
from toolkit.model.synth import ModelBuilder

REFERENCE = SuiteModel("digits_cnn_int8", "bundled")


def other_model() -> bytes:
    b = ModelBuilder(11)
    x = b.input((1, 8, 8, 1))
    return b.build([x], [b.softmax(b.fully_connected(b.reshape(b.conv2d(x, 4, 3), (1, -1)), 10))])


def test_model_update_by_the_protocol_then_the_board_answers(board, bench) -> None:
    """On a MicroPython board the same update goes through its filesystem (the agent restarts with it)."""
    from toolkit.model import load_model

    model = load_model(other_model())
    board.upload(model)
    assert board.info.model_ready and board.info.model_sha256.hex() == model.sha256
    summary = bench(REFERENCE, n=5)  # and back to the reference model, the same way
    assert summary["outputs_match_reference"] and board.refresh().model_sha256.hex() == summary["model_sha256"]


def test_model_update_by_esptool_then_the_board_answers(board, bench) -> None:
    from toolkit.model import load_model

    if board.micropython:
        pytest.skip("a MicroPython board keeps its model on its filesystem, not in a partition esptool writes: "
                    "the filesystem update is test_model_update_by_the_protocol's, and esptool updates MicroPython "
                    "itself in test_firmware_update (--espml-firmware BUILD)")
    model = load_model(other_model())
    result = board.flash(model)
    assert result.model_slot in ("model_a", "model_b")
    info = board.refresh()
    assert info.model_ready and info.model_sha256.hex() == model.sha256
    assert bench(REFERENCE, n=5)["outputs_match_reference"]


def test_firmware_update_then_the_suite_still_passes(request, board, bench, baseline) -> None:
    from toolkit.errors import PortError
    from toolkit.flash import firmware_writes
    from toolkit.hil.plugin import option

    folder = option(request.config, "firmware")
    if not folder:
        pytest.skip("no --espml-firmware build folder given")
    try:
        board.flash(firmware=firmware_writes(Path(folder)))
    except PortError as exc:
        if not board.simulated:
            raise
        pytest.skip(f"esptool reached no ROM loader on {board.where} ({exc.message}): this virtual board models "
                    "MicroPython without the chip's ROM; vdev://esp32s3 flashed with a MicroPython image has it")
    info = board.refresh()
    assert info.protocol_version == 1
    summary = bench(REFERENCE)
    baseline.check(REFERENCE.name, summary)
    assert summary["outputs_match_reference"]
