"""A MicroPython board whose probe answer lies (issue 19 item 7): deep nesting, wrong shapes, wrong
types, huge or endless answers, markup and ESC sequences. The host reads the answer as data: one
line (exit 3) or a table of inert text, never a traceback. Driven through ``espml info --target
micropython`` against a fake raw REPL on a pty (mpremote's own transport on the host side)."""

from __future__ import annotations

import pytest

from lying_board import HONEST_PROBE as HONEST
from lying_board import ENDLESS_ANSWERS, PROBE_ANSWERS, LyingRepl
from toolkit.cli import main
from toolkit.micropython.deploy import PROBE_MAX_CHARS, NotMicroPython, parse_probe

pytest.importorskip("mpremote")

ANSWERS = PROBE_ANSWERS


@pytest.mark.parametrize("case, answer, words", ANSWERS, ids=[a[0] for a in ANSWERS])
def test_a_hostile_probe_answer_is_one_line_or_inert_text(case, answer, words, capsys) -> None:
    with LyingRepl(answer.encode(errors="surrogatepass")) as board:
        code = main(["info", "--target", "micropython", "--port", board.path])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "\x1b" not in captured.out + captured.err, (case, captured)
    if words is None:
        assert code == 0, captured.err
        assert "[/oops]" in captured.out
        return
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 3, (case, captured.err)
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], lines


def test_the_parser_caps_what_it_reads() -> None:
    """The cap is checked before literal_eval sees the text: a megabyte answer costs no parse."""
    with pytest.raises(NotMicroPython, match="not one short line"):
        parse_probe("(" * 1_000_000)
    assert parse_probe(" " + HONEST + "\r\n").machine == "ESP32S3 module"
    assert len(HONEST) < PROBE_MAX_CHARS


@pytest.mark.parametrize("case, stream, words", ENDLESS_ANSWERS, ids=[a[0] for a in ENDLESS_ANSWERS])
def test_an_answer_that_never_ends_is_cut_in_one_line(case, stream, words) -> None:
    """mpremote reads an answer until its end marker, with a time-out only between characters:
    a board that keeps talking kept the host waiting (and growing) for ever. Run in a child, so
    that a hang fails this test instead of stopping the suite."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with LyingRepl(b"", stream) as board:
        try:
            run = subprocess.run([sys.executable, "-m", "toolkit.cli", "info", "--target", "micropython", "--port",
                                  board.path], capture_output=True, text=True, timeout=60, cwd=root,
                                 env=dict(os.environ, PYTHONPATH=str(root)))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case}: the host still waited after 60 s")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 4 and "Traceback" not in run.stderr, (case, run.stderr)
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], lines
