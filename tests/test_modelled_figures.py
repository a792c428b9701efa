"""A virtual board's figures: exactly the modelled ones (latency, heap, stack, current, energy) are marked
simulated, row by row in the terminal and by name in --json; what TFLite-Micro computes (outputs, accuracy,
the arena) is not."""

from __future__ import annotations

import json

from rich.console import Console

from toolkit.cli import main
from toolkit.harness.report import bench_table, power_table
from toolkit.virtual.protocol_vdev import _SHARED

from conftest import FIXTURES, REFERENCE_MODEL

BOARD = "modelled"
MODELLED_ROWS = {"latency median / p90", "latency min / max", "heap free (minimum)", "current mean / peak",
                 "energy per inference"}
COMPUTED_ROWS = {"arena used", "outputs equal host reference", "accuracy on device / host"}


def _rows(table) -> dict[str, str]:
    """Each row of a rendered table by its first cell."""
    console = Console(record=True, width=200)
    console.print(table)
    rows = {}
    for line in console.export_text().splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) > 1:
            rows[cells[0]] = line
    return rows


def _bench(tmp_path, capsys) -> dict:
    port = f"vdev://esp32s3?id={BOARD}"
    try:
        assert main(["bench", "--port", port, "--model", str(REFERENCE_MODEL), "--inputs",
                     str(FIXTURES / "reference" / "heldout_nhwc"),
                     "--n", "6", "--db", str(tmp_path / "r.sqlite"), "--json", str(tmp_path / "out.json"),
                     "--power", f"ppk2:vppk2://{BOARD}"]) == 0
    finally:
        board = _SHARED.pop(BOARD, None)
        if board is not None:
            board.close()
    capsys.readouterr()
    return json.loads((tmp_path / "out.json").read_text())


def test_a_virtual_boards_modelled_figures_alone_say_simulated(tmp_path, capsys) -> None:
    summary = _bench(tmp_path, capsys)
    assert summary["simulated"] is True
    assert summary["simulated_figures"] == ["latency_us", "cycles_median", "heap_free_min_bytes",
                                            "stack_high_water_bytes", "current_ma", "energy_uj_per_inference", "power"]
    rows = _rows(bench_table({**summary, "accuracy": 0.9, "host_accuracy": 0.9}))  # as the demo's labelled inputs give
    assert MODELLED_ROWS | COMPUTED_ROWS <= rows.keys()
    assert {name for name, line in rows.items() if "simulated" in line} == MODELLED_ROWS
    power = _rows(power_table(summary["power"]))
    assert {name for name, line in power.items() if line.rstrip(" │").endswith("simulated")} == {
        "energy above idle (median)", "energy from the supply (median)", "spread p10 / p90", "window (median)",
        "idle current"}  # counts (windows, lost samples) are not figures of the board

    measured = {**summary, "simulated": False, "simulated_figures": []}
    assert not any("simulated" in line for line in _rows(bench_table(measured)).values())
