"""A MicroPython board whose probe answer lies (issue 19 item 7): deep nesting, wrong shapes, wrong
types, huge or endless answers, markup and ESC sequences. The host reads the answer as data: one
line (exit 3) or a table of inert text, never a traceback. Driven through ``espml info --target
micropython`` against a fake raw REPL on a pty (mpremote's own transport on the host side)."""

from __future__ import annotations

import pytest

from lying_board import HONEST_PROBE as HONEST
from lying_board import PROBE_ANSWERS, LyingRepl
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
