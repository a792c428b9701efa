"""Errors of power measurement; each says what to do next."""

from __future__ import annotations

from toolkit.errors import ToolkitError


class PowerError(ToolkitError):
    """A power meter or its trace cannot give an energy figure."""

    exit_code = 10


class MeterNotFound(PowerError):
    """No meter answers where the --power spec points."""


class WrongDevice(PowerError):
    """Something answers on the port, but not the meter the spec names."""


class MarkerError(PowerError):
    """The inference-window marker input shows no usable window."""


class SaturatedTrace(PowerError):
    """The meter's range was exceeded inside an inference window."""
