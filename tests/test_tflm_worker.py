"""The long-lived TFLite-Micro child (toolkit.model.tflm_worker): the answers of a child per
question, crashes and killed children included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.model import tflm_worker
from toolkit.model.tflm import host_arena_estimate

REFERENCE_MODEL = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "digits_cnn_int8.tflite"
CRASHING_ARENA = 64  # TFLM segfaults building this model's interpreter in so few bytes (signal 11)
ONE_SHOT = ("import sys\nfrom tflite_micro import runtime\n"
            "interpreter = runtime.Interpreter.from_bytes(sys.stdin.buffer.read(), arena_size=int(sys.argv[1]),\n"
            "    intrepreter_config=runtime.InterpreterConfig.kAllocationRecording)\n"
            "interpreter.print_allocations()\n")


def one_shot(model: bytes, arena: int) -> subprocess.CompletedProcess:
    """A fresh interpreter in a fresh process: the oracle the long-lived child must agree with."""
    return subprocess.run([sys.executable, "-c", ONE_SHOT, str(arena)], input=model, capture_output=True, timeout=60)


def child_pid() -> int:
    return tflm_worker._WORKER._child.pid


def test_the_child_agrees_with_a_process_per_question_around_the_models_need() -> None:
    model = REFERENCE_MODEL.read_bytes()
    need = host_arena_estimate(model)
    for arena in (CRASHING_ARENA, need // 2, need - 16, need - 1, need, need + 16, 4 * need):
        expected = one_shot(model, arena)
        assert tflm_worker.allocates(model, arena) is (expected.returncode == 0), arena
        printed = tflm_worker.allocation_printout(model, arena)
        assert (printed is None) is (expected.returncode != 0), arena
        if printed is not None:
            assert printed == expected.stderr.decode(), arena


def test_a_question_that_crashes_the_child_is_a_no_and_the_next_gets_a_new_child() -> None:
    model = REFERENCE_MODEL.read_bytes()
    assert one_shot(model, CRASHING_ARENA).returncode == -signal.SIGSEGV
    assert tflm_worker.allocates(model, 4 * host_arena_estimate(model))
    before = child_pid()
    assert not tflm_worker.allocates(model, CRASHING_ARENA)
    assert tflm_worker.allocates(model, 4 * host_arena_estimate(model)) and child_pid() != before


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("settle", [True, False], ids=["dead", "dying"])
def test_a_child_killed_between_questions_does_not_turn_a_yes_into_a_no(settle: bool) -> None:
    model = REFERENCE_MODEL.read_bytes()
    arena = 4 * host_arena_estimate(model)
    assert tflm_worker.allocates(model, arena)
    killed = child_pid()
    os.kill(killed, signal.SIGKILL)
    while settle and _state(killed) != "Z":
        time.sleep(0.01)
    assert tflm_worker.allocates(model, arena) and child_pid() != killed
    assert "Arena allocation total" in tflm_worker.allocation_printout(model, arena)


def test_garbage_and_truncated_models_are_a_no_without_harm() -> None:
    model = REFERENCE_MODEL.read_bytes()
    assert not tflm_worker.allocates(b"garbage" * 10, 1 << 20)
    assert not tflm_worker.allocates(model[:len(model) // 2], 1 << 20)
    assert tflm_worker.allocation_printout(model[:len(model) // 2], 1 << 20) is None
    assert tflm_worker.allocates(model, 1 << 20)
