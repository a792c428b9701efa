"""The regression suite, per model: outputs equal to the host's TFLite-Micro, accuracy on labelled
data, latency, arena, heap, stack, current and energy, each against the baseline of the board's
kind and firmware. Runs against any ports: `pytest hil/ --espml-port URL ...` (default: a virtual
board)."""

from __future__ import annotations

import pytest

from toolkit.hil.suite import SuiteModel


def test_model_figures(suite_model, bench, baseline, board) -> None:
    if suite_model.board and suite_model.board != board.kind:
        pytest.skip(f"{suite_model.name} is for {suite_model.board} boards")
    summary = bench(suite_model)
    baseline.check(suite_model.name, summary)
    assert summary["outputs_match_reference"], (
        f"{summary['mismatches']} of {summary['n']} outputs differ from the host reference on {board.where}")
    if "accuracy" in summary:
        assert summary["accuracy"] >= summary["host_accuracy"] - 0.01, (
            f"accuracy {summary['accuracy']:.3f} on {board.where}, {summary['host_accuracy']:.3f} on the host")


@pytest.mark.espml_current_sensor
def test_current_is_measured_during_inference(bench, board) -> None:
    """A fitted sensor must see the board draw current while it infers, and give an energy."""
    summary = bench(SuiteModel("digits_cnn_int8", "bundled"), n=50)
    assert summary["current_ma"] and summary["current_ma"]["mean"] > 0
    assert summary["energy_uj_per_inference"] and summary["energy_uj_per_inference"] > 0
