"""Writing firmware and model images to a board with esptool's Python API (never its CLI).

A model goes into the inactive model slot with a sequence number one above the newest, data
first and header last, so a write cut short leaves the old model in charge: the firmware only
runs a slot whose SHA-256 checks. Everything that can be refused is refused before the board is touched.
"""

from __future__ import annotations

import contextlib
import logging
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import serial

from toolkit.boards import Board
from toolkit.errors import PortError, ToolkitError, UnfitModelError
from toolkit.image import app_image
from toolkit.image.model_image import SECTOR, build_image, check_fits, choose_slot, write_order
from toolkit.image.partitions import (
    MODEL_SLOTS,
    TABLE_OFFSET,
    TABLE_SIZE,
    TYPES,
    Partition,
    PartitionError,
    find,
    from_binary,
    load_csv,
    model_slots,
)
from toolkit.model.inspect import inspect_model
from toolkit.model.reader import TFLiteModel
from toolkit.ports import _explain, open_port, tool_url

CHIP_NAME = "ESP32-S3"


log = logging.getLogger(__name__)


class FlashError(ToolkitError):
    exit_code = 9


@dataclass(frozen=True)
class Write:
    name: str
    offset: int
    data: bytes

    @property
    def deflated(self) -> int:
        return len(zlib.compress(self.data, 9))


@dataclass
class FlashResult:
    writes: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    model_slot: str | None = None
    model_sequence: int | None = None
    model_sha256: str | None = None
    model_runs: bool = True  # False when --force wrote a model that inspect says this firmware will not run

    @property
    def wire_bytes_estimate(self) -> int:
        return sum(w["deflated_bytes"] for w in self.writes)


def firmware_writes(source: str | Path) -> list[Write]:
    """Firmware files from an ESP-IDF build folder (its flasher_args.json) or OFFSET=FILE items."""
    path = Path(source)
    if path.is_dir():
        args = path / "flasher_args.json"
        if not args.exists():
            raise FlashError(f"{path} has no flasher_args.json", "give the ESP-IDF build folder of device/ (idf.py build)")
        return [Write(name, offset, _read(_inside(path, name))) for offset, name in _flash_files(args)]
    offset, _, name = str(source).partition("=")
    if not name:
        raise FlashError(f"'{source}' is neither a build folder nor OFFSET=FILE", "e.g. --firmware 0x10000=espml-fw.bin")
    return [Write(Path(name).name, int(offset, 0), _read(Path(name)))]


def _flash_files(args: Path) -> list[tuple[int, str]]:
    """(offset, file) pairs of an ESP-IDF flasher_args.json, or FlashError in one line."""
    hint = "give the flasher_args.json idf.py build wrote (an object whose flash_files map offsets to files)"
    try:
        data = json.loads(args.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FlashError(f"cannot read {args}: {exc}", hint) from None
    files = data.get("flash_files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise FlashError(f"{args} has no flash_files object", hint)
    pairs = []
    for offset, name in files.items():
        try:
            number = int(offset, 0)
        except (TypeError, ValueError):
            number = -1
        if not 0 <= number < 2**32 or not isinstance(name, str) or not name:
            raise FlashError(f"{args}: '{offset}': '{name}' is not an offset and a file", hint)
        pairs.append((number, name))
    return pairs


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it resolves inside ``folder`` (no ``..``, no other absolute path)."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise FlashError(f"flasher_args.json names {name}, outside the build folder {folder}",
                         "only files of the build folder are flashed")
    return path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FlashError(f"cannot read {path}: {exc.strerror}", "check the firmware path") from None


def check_firmware(writes: list[Write], partitions: list[Partition], force: bool) -> None:
    """The bootloader (0x0) and whatever goes to an app partition must be valid ESP32-S3 images."""
    image_offsets = {0x0} | {p.offset for p in partitions if p.type == TYPES["app"]}
    for write in writes:
        if write.offset in image_offsets and not app_image.check_image(write.data) and not force:
            raise FlashError(f"{write.name} is not a valid ESP32-S3 image", "check the file, or --force")


def check_model(model: TFLiteModel, board: Board, partitions: list[Partition], force: bool) -> bool:
    """Refuse, before anything is written, a model that is too large or will not run; with ``force``,
    return whether it will run."""
    slot = find(partitions, MODEL_SLOTS[0])
    check_fits(model, slot.size)
    report = inspect_model(model, board)
    if not report.fits and not force:
        why = "; ".join([f"{p.op}: {p.reason}" for p in report.problems]
                        + [f"{b.name}: {b.used:,} > {b.available:,}" for b in report.budgets if not b.fits])
        raise UnfitModelError(f"this model will not run on the {board.name} firmware ({why})",
                         "see 'espml inspect', or pass --force to write it anyway")
    return report.fits


@contextlib.contextmanager
def esptool_quiet(quiet: bool = True) -> Iterator[None]:
    """esptool prints through its own logger; a library call keeps it silent unless asked."""
    from esptool.logger import log

    log.set_verbosity("silent" if quiet else "auto")
    try:
        yield
    finally:
        log.set_verbosity("auto")


def _connect(port: str, before: str, stub: bool):
    from esptool.cmds import detect_chip, run_stub
    from esptool.util import FatalError

    open_port(port).close()  # our own messages for a missing, busy or forbidden port
    try:
        esp = detect_chip(port, baud=115200, connect_mode=before, connect_attempts=3)
    except serial.SerialException as exc:
        raise _explain(port, exc) from None
    except FatalError as exc:
        raise PortError(f"no ESP bootloader answered on {port}: {str(exc).splitlines()[0]}",
                        "hold BOOT while pressing RESET, or check --before") from None
    if esp.CHIP_NAME != CHIP_NAME:
        esp._port.close()
        raise FlashError(f"the board is an {esp.CHIP_NAME}, not an {CHIP_NAME}", "connect an ESP32-S3 board")
    return run_stub(esp) if stub else esp


def _after_for(port: str, after: str) -> str:
    """A pty or a TCP socket carries no DTR/RTS, so a hard reset through them cannot happen and the
    board would stay in its bootloader: reset it in band (the RTC watchdog) instead."""
    if after == "hard-reset" and (port.startswith("/dev/pts/") or port.startswith("socket://")):
        log.info("%s has no modem lines: resetting the board with its watchdog instead", port)
        return "watchdog-reset"
    return after


def _board_table(data: bytes) -> list[Partition]:
    """The partition table read from the board's flash at 0x8000: the one its firmware uses."""
    try:
        return from_binary(data)
    except PartitionError as exc:
        state = "damaged" if data.strip(b"\xff") else "blank: the board has no partition table"
        raise FlashError(f"the board's partition table is {state} ({exc.message})",
                         "flash the firmware with its partition table first (--firmware BUILD)") from None


def _slots(partitions: list[Partition], board: Board) -> tuple[Partition, ...]:
    """The table's model slots, or FlashError: a model is written only where the firmware will find it."""
    try:
        return model_slots(partitions, board.flash_bytes)
    except PartitionError as exc:
        raise FlashError(f"no model written: {exc.message}", exc.hint) from None


def check_inside(writes: list[Write], slot: Partition) -> list[Write]:
    """``writes``, each checked to lie inside ``slot``: nothing past the slot is ever written."""
    for write in writes:
        if write.offset < slot.offset or write.offset + len(write.data) > slot.offset + slot.size:
            raise FlashError(f"{write.name} (0x{write.offset:x}, {len(write.data):,} bytes) would leave partition "
                             f"'{slot.name}' (0x{slot.offset:x}, {slot.size:,} bytes)", "nothing was written")
    return writes


def model_writes(slot: Partition, image: bytes) -> list[Write]:
    """The image's data sectors, then its first sector (the header) once they are all in place."""
    names = ("data", "header") if len(image) > SECTOR else ("header",)
    return [Write(f"model -> {slot.name} {name}", offset, data)
            for name, (offset, data) in zip(names, write_order(slot.offset, image))]


def flash(port: str, board: Board, model: TFLiteModel | None = None, firmware: list[Write] | None = None,
          force: bool = False, before: str = "default-reset", after: str = "hard-reset", stub: bool = True,
          progress=None, show_esptool: bool = False) -> FlashResult:
    """Write ``firmware`` and/or ``model``. ``show_esptool`` lets esptool draw its progress bars."""
    from esptool.cmds import attach_flash, read_flash, reset_chip, write_flash
    from esptool.util import FatalError

    firmware = firmware or []
    table = next((w for w in firmware if w.offset == TABLE_OFFSET), None)
    partitions = from_binary(table.data) if table else load_csv()
    check_firmware(firmware, partitions, force)
    result, started = FlashResult(), time.monotonic()
    if model is not None:
        if table is not None:
            _slots(partitions, board)
        result.model_runs = check_model(model, board, partitions, force)
    with tool_url(port) as port, esptool_quiet(not show_esptool):
        esp = _connect(port, before, stub)
        try:
            attach_flash(esp)
            writes = list(firmware)
            if model is not None:
                if table is None:
                    partitions = _board_table(read_flash(esp, TABLE_OFFSET, TABLE_SIZE, no_progress=True))
                    _slots(partitions, board)
                slot, sequence = choose_slot(lambda o, n: read_flash(esp, o, n, no_progress=True), partitions)
                check_fits(model, slot.size)
                writes += check_inside(model_writes(slot, build_image(model, sequence)), slot)
                result.model_slot, result.model_sequence, result.model_sha256 = slot.name, sequence, model.sha256
            for number, write in enumerate(writes, 1):
                if progress:
                    progress(write.name, number, len(writes))
                write_flash(esp, [(write.offset, write.data)], compress=True)
                result.writes.append({"name": write.name, "offset": write.offset, "bytes": len(write.data),
                                      "deflated_bytes": write.deflated})
            reset_chip(esp, _after_for(port, after))
        except FatalError as exc:
            raise FlashError(f"flashing failed: {str(exc).splitlines()[0]}",
                             "the old model stays in charge; check the cable and try again") from None
        except ToolkitError:  # refused before writing: the board goes back to running what it had
            with contextlib.suppress(FatalError, OSError, serial.SerialException):
                reset_chip(esp, _after_for(port, after))
            raise
        finally:
            esp._port.close()
    result.seconds = time.monotonic() - started
    return result
