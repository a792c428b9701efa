"""The modelled MicroPython GC heap: which figure each board gets, and the fit arithmetic at its edge."""

from __future__ import annotations

import json

import pytest

from toolkit.boards import get_board
from toolkit.micropython import heap
from toolkit.micropython.deploy import arena_for
from toolkit.model import load_model
from toolkit.model.synth import ModelBuilder


def _fc_model(side: int, units: int = 12):
    """An int8 model whose one FULLY_CONNECTED holds side*side*units weight bytes."""
    b = ModelBuilder(5)
    x = b.input((1, side, side, 1))
    return load_model(b.build([x], [b.softmax(b.fully_connected(b.reshape(x, (1, -1)), units))]))


def test_the_heap_is_the_psram_else_half_the_assumed_internal_heap() -> None:
    assert heap.gc_heap_bytes(8 * 1024 * 1024) == 8 * 1024 * 1024
    assert heap.gc_heap_bytes(0) == heap.INTERNAL_HEAP_BYTES // 2
    assert heap.board_psram(get_board("esp32s3")) == heap.DEFAULT_PSRAM_BYTES  # the SPIRAM build's N8R2
    assert heap.board_psram(get_board("esp32s3-r8")) == 8 * 1024 * 1024


def test_the_needed_bytes_are_model_plus_tensor_area_plus_io() -> None:
    model = _fc_model(16)
    fit = heap.heap_fit(model, 10**9, 4096)
    assert fit.model_bytes == len(model.data)
    assert fit.tensor_area_bytes == 4096 + 16  # microlite's own slack
    assert fit.io_bytes == 16 * 16 + 12  # int8 input and output
    assert fit.needed_bytes == len(model.data) + 4112 + 268


def test_a_model_fits_a_heap_of_exactly_its_size_and_not_one_byte_less() -> None:
    model = _fc_model(16)
    need = heap.heap_fit(model, 0, 4096).needed_bytes
    assert heap.heap_fit(model, need, 4096).fits
    assert not heap.heap_fit(model, need - 1, 4096).fits


def test_a_3_mib_model_fits_an_8_mib_psram_board_only() -> None:
    model = _fc_model(512)  # 3 MiB of weights
    small = heap.check_micropython(model, get_board("esp32s3"), arena_for(model))
    large = heap.check_micropython(model, get_board("esp32s3-r8"), arena_for(model))
    assert not small.fits and not small.without_psram.fits
    assert large.fits and not large.without_psram.fits
    assert "does not fit" in small.lines()[0] and "fits" in large.lines()[0]
    assert "without PSRAM, internal heap assumed" in large.lines()[1]  # the 336 KiB is not a published figure


@pytest.mark.parametrize("board, fits", [("esp32s3", False), ("esp32s3-r8", True)])
def test_inspect_json_reports_the_heap_of_the_board_asked_for(tmp_path, capsys, board, fits) -> None:
    from toolkit.cli import main

    path = tmp_path / "big.tflite"
    path.write_bytes(_fc_model(512).data)
    main(["inspect", str(path), "--target", "micropython", "--board", board, "--json", "-"])
    report = json.loads(capsys.readouterr().out)["micropython"]
    assert report["heap_with_psram"]["fits"] is fits
    assert report["heap_with_psram"]["heap_bytes"] == heap.board_psram(get_board(board))
    assert report["heap_without_psram"]["heap_bytes"] == heap.INTERNAL_HEAP_BYTES // 2
