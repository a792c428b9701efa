"""A meter that plays back a recorded trace (``espml bench --power ... --trace FILE`` writes one)."""

from __future__ import annotations

from toolkit.power.errors import PowerError
from toolkit.power.trace import Trace


class ReplayMeter:
    name = "replay"

    def __init__(self, path: str | None) -> None:
        if not path:
            raise PowerError("--power replay needs a trace file: replay:FILE", "give a .npz trace")
        self.path = path
        self._trace: Trace | None = None
        self._played = False

    @property
    def simulated(self) -> bool:
        return bool(self._trace and self._trace.simulated)

    def open(self) -> None:
        self._trace = Trace.load(self.path)

    def start(self) -> None:
        self._played = False

    def stop(self) -> None:
        """A recording has nothing to stop."""

    def samples(self) -> Trace:
        """The whole recording once after each start(), then nothing."""
        if self._trace is None:
            raise PowerError("the replay meter was not opened", "call open() first")
        if self._played:
            return Trace.empty(self._trace.rate_hz, self._trace.simulated, self._trace.source)
        self._played = True
        return self._trace

    def close(self) -> None:
        self._trace = None
