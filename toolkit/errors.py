"""One base error for the toolkit; each subclass's message says what to do next."""

from __future__ import annotations


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose.

    ``hint`` is a short instruction for the user; the CLI prints it after the message.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ModelError(ToolkitError):
    """A model file is missing, unreadable, corrupt or unsuitable."""

    exit_code = 2


class UnfitModelError(ModelError):
    """A readable model that does not fit the board or will not run on its firmware."""

    exit_code = 8


class InputDataError(ToolkitError):
    """Input data is missing or does not match the model."""

    exit_code = 2


class UsageError(ToolkitError):
    """A command-line value that is malformed or out of range."""

    exit_code = 2


class PortError(ToolkitError):
    """A serial port cannot be opened or used."""

    exit_code = 3


class ProtocolError(ToolkitError):
    """The device sent something the protocol does not allow."""

    exit_code = 4


class DeviceTimeout(ProtocolError):
    """The device stopped answering."""


class DeviceError(ToolkitError):
    """The device answered a request with an ERROR frame."""

    exit_code = 4

    def __init__(self, code: int, name: str, message: str, hint: str = "") -> None:
        super().__init__(f"device error {name} ({code}): {message}", hint)
        self.code = code
        self.name = name


class ConversionError(ToolkitError):
    """Export, onnx2tf or quantisation failed."""

    exit_code = 5


class MissingExtraError(ToolkitError):
    """An optional dependency group is not installed."""

    exit_code = 6
