"""The host's TFLite-Micro wrapper never takes over this process's stderr (fd 2): board threads
and loggers write there while a model loads."""

from __future__ import annotations

import os
import traceback

import pytest

from toolkit.model.tflm import HostInterpreter

from conftest import REFERENCE_MODEL


def test_loading_and_recording_a_model_leaves_fd_2_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    real_dup2, from_toolkit = os.dup2, []

    def watched_dup2(fd, fd2, *args):
        if fd2 == 2 and any("toolkit" in frame.filename for frame in traceback.extract_stack()):
            from_toolkit.append(fd)
        return real_dup2(fd, fd2, *args)

    monkeypatch.setattr(os, "dup2", watched_dup2)  # pytest's own capture uses it too: only ours counts
    data = REFERENCE_MODEL.read_bytes()
    interpreter = HostInterpreter(data, 64 * 1024)
    record = interpreter.arena
    assert record.total > record.head > 0 and record.tail > 0
    assert not from_toolkit, "the wrapper redirected fd 2"
