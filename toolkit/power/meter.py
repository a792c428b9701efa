"""The power meter interface and the registry of implementations (``--power KIND[:ARG]``)."""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

from toolkit.errors import MissingExtraError
from toolkit.power.errors import PowerError
from toolkit.power.trace import Trace


@runtime_checkable
class Meter(Protocol):
    """A current meter on the board's supply line. ``samples()`` returns what was captured since
    its last call; ``simulated`` is true for a meter that measures a virtual board."""

    name: str
    simulated: bool

    def open(self) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def samples(self) -> Trace: ...

    def close(self) -> None: ...


# kind -> (module:class, the extra its third-party package comes in, or None)
METERS: dict[str, tuple[str, str | None]] = {
    "ppk2": ("toolkit.power.ppk2:PPK2Meter", None),  # pyserial only, a base dependency
    "ina": ("toolkit.power.ina:InaMeter", None),
    "replay": ("toolkit.power.replay:ReplayMeter", None),
    "joulescope": ("toolkit.power.joulescope:JoulescopeMeter", "power"),  # the joulescope package
}
USAGE = "give --power ppk2:PORT, joulescope[:SERIAL], ina or replay:FILE"


def parse_spec(spec: str) -> tuple[str, str | None]:
    kind, _, arg = spec.partition(":")
    if kind not in METERS:
        raise PowerError(f"unknown power meter {kind!r}", USAGE)
    if kind in ("ppk2", "replay") and not arg:
        raise PowerError(f"--power {kind} needs a {'port' if kind == 'ppk2' else 'file'}: {kind}:...", USAGE)
    return kind, arg or None


def make_meter(spec: str) -> Meter:
    """The meter a spec names, not yet opened."""
    kind, arg = parse_spec(spec)
    target, extra = METERS[kind]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingExtraError(f"the {kind} meter needs {exc.name}, which is not installed",
                                f"pip install 'espml[{extra}]'" if extra else "reinstall espml") from None
    return getattr(module, class_name)(arg)
