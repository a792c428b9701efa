"""Opening ports by pyserial URL, with the toolkit's own URL schemes registered."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

import serial

from toolkit.errors import PortError

HANDLER_PACKAGES = ("toolkit.virtual", "toolkit.farm")  # vdev:// and labgrid://


def register_url_handlers() -> None:
    """Let ``serial.serial_for_url`` resolve ``vdev://`` and ``labgrid://PLACE`` (pyserial imports
    a handler lazily, so labgrid is imported only for a labgrid:// port)."""
    for package in HANDLER_PACKAGES:
        if package not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append(package)


def open_port(url: str, baudrate: int = 921600, timeout: float = 0.1) -> serial.SerialBase:
    """Open ``url``; turn pyserial's failures into a PortError that says what to do."""
    register_url_handlers()
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, exclusive=True)
    except ValueError as exc:
        raise PortError(f"cannot open {url}: {exc}", "check the port URL") from None
    except serial.SerialException as exc:
        raise _explain(url, exc) from None


@contextlib.contextmanager
def tool_url(url: str) -> Iterator[str]:
    """The URL to hand a tool that opens ports itself (esptool, which tells RFC 2217 by the URL's
    prefix): for ``labgrid://PLACE`` the place is held meanwhile and its RFC 2217 URL given."""
    if not url.startswith("labgrid:"):
        yield url
        return
    from toolkit.farm.places import acquired
    from toolkit.farm.protocol_labgrid import parse

    try:
        place = parse(url)
    except serial.SerialException as exc:
        raise PortError(str(exc), "give labgrid://PLACE, optionally ?coordinator=HOST:PORT and &wait=SECONDS") from None
    with acquired([place.place], place.coordinator, place.wait_s) as (board,):
        yield board.serial_url


def _explain(url: str, exc: serial.SerialException) -> PortError:
    code = exc.errno if isinstance(exc.errno, int) else None
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text or "could not open port" in text and "[Errno 2]" in text:
        return PortError(f"no such port: {url}", "plug the board in and list ports with 'python -m serial.tools.list_ports'")
    if code == errno.EACCES or "Permission denied" in text:
        group = "dialout" if os.path.exists("/etc/debian_version") else "uucp"
        return PortError(f"permission denied on {url}", f"add yourself to the '{group}' group and log in again")
    if code in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "lock" in text.lower():
        return PortError(f"port {url} is busy", "close the other program using it (a serial monitor?)")
    if "Remote does not seem to support RFC2217" in text:  # pyserial's words when the server answers but never negotiates
        return PortError(f"{url} answered but did not speak RFC 2217: another client may hold the board "
                         "(espml sim and ser2net turn a second client away), or it is not an RFC 2217 server",
                         "close the other client and try again, or check the host:port")
    if "unsupported" in text.lower() or "invalid URL" in text:
        return PortError(f"cannot open {url}: {text}",
                         "use a device path, rfc2217://host:port, socket://host:port, labgrid://PLACE or vdev://esp32s3")
    return PortError(f"cannot open {url}: {text}", "check the port URL and that the board is connected")
