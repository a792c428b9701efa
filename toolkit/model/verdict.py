"""What inspect concludes, in words: fits and runs, or which of the two fails, why, and where it would fit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from toolkit.boards import BOARDS, Board, get_board
from toolkit.boards.base import CONFIDENCE_ORDER


@dataclass(frozen=True)
class Verdict:
    fits: bool  # every budget (flash slot, tensor arena) holds
    runs: bool  # the firmware has a kernel for every op
    lines: tuple[str, ...]  # the conclusion first, then the reasons

    def to_json(self) -> dict:
        return {"fits": self.fits, "runs": self.runs, "summary": self.lines[0], "reasons": list(self.lines[1:])}


def problem_counts(report) -> list[tuple[str, str, str, int]]:
    """The report's problems with repeats folded: (op, reason, hint, how many ops)."""
    counts = Counter((p.op, p.reason, p.hint) for p in report.problems)
    return [(op, reason, hint, n) for (op, reason, hint), n in counts.items()]


def boards_that_fit(report, boards: dict[str, type[Board]] = BOARDS) -> list[str]:
    """Other board variants whose flash slot and arena hold this model (the ops are the same firmware's)."""
    arena = report.arena_head_bytes + report.arena_tail_bytes
    return [name for name in boards if name != report.board
            and arena <= get_board(name).arena_bytes and report.flash_bytes <= get_board(name).model_slot_bytes]


def verdict(report) -> Verdict:
    fits = all(b.fits for b in report.budgets)
    runs = not report.problems
    lines = []
    if fits and runs:
        lines.append(f"fits and runs on {report.board}")
    else:
        failing = [what for what, bad in (("does not fit", not fits), ("will not run", not runs)) if bad]
        lines.append(f"{' and '.join(failing)} on {report.board}")
    for budget in report.budgets:
        if not budget.fits:
            lines.append(f"{budget.name}: needs {budget.used:,} B, has {budget.available:,} B")
    if not fits:
        others = boards_that_fit(report)
        lines.append(f"it fits {', '.join(others)} (--board {others[0]})" if others
                     else "no board variant espml knows has room for it: shrink it with espml optimize or espml plan")
    if report.arena_uncounted_ops:
        uncounted = ", ".join(report.arena_uncounted_ops)
        lines.append(f"the arena figure is a lower bound: what {uncounted} take from the arena is not counted "
                     "(options or shapes its kernel does not take); 'espml bench' on a board reports the arena it "
                     "really used")
    for op, reason, _hint, n in problem_counts(report):
        lines.append(f"{op}{f' (x{n})' if n > 1 else ''}: {reason}")
    if report.float_ops and report.esp_nn:
        lines.append(f"{len(report.float_ops)} of {len(report.ops)} ops compute in float32: TFLite-Micro's reference "
                     f"float kernels run them, not ESP-NN's int8 ones: about {report.estimated_latency_ms:,.2f} ms "
                     f"against {report.int8_latency_ms:,.2f} ms as a full-integer int8 model (float costed as plain C, "
                     "not calibrated)")
    lines += confidence_lines(report)
    return Verdict(fits, runs, tuple(lines))


def confidence_lines(report) -> list[str]:
    """How sure the latency estimate is per op kind, and why an extrapolated kind's figure is rough."""
    kinds = report.latency_confidence()
    if not kinds:
        return []
    by_tag: dict[str, list[str]] = {}
    for kind, entry in kinds.items():
        by_tag.setdefault(entry["confidence"], []).append(kind)
    lines = ["latency estimate per op kind: " + "; ".join(f"{tag} for {', '.join(by_tag[tag])}"
                                                        for tag in CONFIDENCE_ORDER if tag in by_tag)]
    for kind, entry in kinds.items():
        if entry["confidence"] == "extrapolated":
            lines.append(f"{kind}'s {entry['estimated_ms']:,.2f} ms is extrapolated, a rough figure: "
                         + "; ".join(entry["reasons"]))
    return lines
