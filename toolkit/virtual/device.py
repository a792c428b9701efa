"""A running virtual ESP32-S3: flash, a boot sequence, the reset circuit, ROM or application side.

After a reset the board samples IO0: low boots the ROM serial bootloader (esptool talks to
it), high boots from flash: the second-stage bootloader at 0x0 must be a valid image, the
partition table at 0x8000 must read, the app partition must hold a valid application image;
then our firmware runs the newest verified model slot and serves the protocol. EN and IO0 sit
behind the usual two-transistor auto-reset circuit on DTR and RTS.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from toolkit.boards import get_board
from toolkit.image import app_image
from toolkit.image.partitions import TABLE_OFFSET, TABLE_SIZE, PartitionError, app_partition, from_binary, load_csv, to_binary
from toolkit.virtual.app import FIRMWARE_NAME, FaultPlan, FirmwareApp
from toolkit.virtual.flash import FlashMemory, PowerCut
from toolkit.virtual.link import PacedPipe
from toolkit.virtual.rom import RomLoader
from toolkit.virtual.slots import ModelSlots

WATCHDOG_DELAY_S = 0.1  # esptool's RTC watchdog timeout, about 100 ms of the slow clock
STRAP_SAMPLE_DELAY_S = 0.1  # the strap sample this long after EN rises (see set_lines)
ESPTOOL_SYNC = b"\xc0\x00\x08\x24\x00"  # start of esptool's SYNC command
ROM_DOWNLOAD_TEXT = (b"ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
                     b"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n")


@dataclass(frozen=True)
class BoardOptions:
    board: str = "esp32s3"
    baud: int | None = None  # None: native USB, not paced; a number: a UART at that rate, 8N1
    latency_us: int = 0
    realtime: bool = True  # take the simulated Invoke() time in wall-clock time too
    esp_nn: bool = True
    slot_bytes: int | None = None  # None: the partition's size
    arena_bytes: int | None = None  # None: the board's own figure
    hang_after: int | None = None
    reset_after: int | None = None
    flash_file: str | None = None  # keep flash contents in this file between runs
    sync_enters_download: bool = False  # a pty has no modem lines: treat esptool's SYNC as the reset


def provision(flash: FlashMemory, version: str) -> None:
    """Lay down what a board from the lab carries: bootloader, partition table, application."""
    partitions = load_csv()
    flash.write(0x0, app_image.build_bootloader())
    flash.write(TABLE_OFFSET, to_binary(partitions))
    flash.write(app_partition(partitions).offset, app_image.build_app(FIRMWARE_NAME, version))


class VirtualBoard:
    def __init__(self, options: BoardOptions | None = None) -> None:
        from toolkit import __version__

        self.options = options or BoardOptions()
        opts = self.options
        board = get_board(opts.board)
        self.board = board if opts.arena_bytes is None else dataclasses.replace(board, arena_bytes=opts.arena_bytes)
        self.flash = FlashMemory(self.board.flash_bytes, opts.flash_file)
        if self.flash.blank:
            provision(self.flash, __version__)
        self.to_device = PacedPipe(opts.baud, opts.latency_us / 1e6)
        self.to_host = PacedPipe(opts.baud, opts.latency_us / 1e6)
        self.mode = "off"  # "app", "rom", "halted" (nothing bootable) or "off" (in reset, no power)
        self.app: FirmwareApp | None = None
        self.rom: RomLoader | None = None
        self.faults = FaultPlan(opts.hang_after, opts.reset_after)
        self.boots = 0
        self._lines = (False, False)  # DTR, RTS as the host set them
        self._io0_low_seen = False
        self._pending_reboot: bool | None = None  # a reboot asked for while a command is answered
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- power and reset ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def power_on(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self.boot(download=False)
        self._thread = threading.Thread(target=self._serve, name="vdev-esp32s3", daemon=True)
        self._thread.start()

    def power_off(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
        self.mode = "off"
        self.flash.flush()

    def power_cycle(self) -> None:
        """Power returns after a cut: the flash keeps what was written, the board boots."""
        self.flash.cut_after = None
        self.boot(download=False)

    def set_lines(self, dtr: bool, rts: bool) -> None:
        """DTR and RTS through the two-transistor circuit: EN low only for RTS without DTR, IO0 low
        only for DTR without RTS. The chip starts when EN rises; it enters download mode if IO0
        was low at any moment before the strap sample. The window stands in for what
        esp_rfc2217_server does for remote boards (RFC 2217 clients pace line changes ~50 ms apart)."""
        with self._lock:
            was_in_reset = self._lines[1] and not self._lines[0]
            self._lines = (dtr, rts)
            in_reset = rts and not dtr
            if dtr and not rts:
                self._io0_low_seen = True
            if in_reset and not was_in_reset:
                self.mode = "off"
            elif was_in_reset and not in_reset:
                self._io0_low_seen = dtr and not rts
                timer = threading.Timer(STRAP_SAMPLE_DELAY_S, self._boot_from_straps)
                timer.daemon = True
                timer.start()

    def _boot_from_straps(self) -> None:
        with self._lock:
            dtr, rts = self._lines
            if rts and not dtr:
                return  # back in reset already
            self.boot(download=self._io0_low_seen)

    def boot(self, download: bool) -> None:
        with self._lock:
            self.boots += 1
            self.to_device.clear()
            if download:
                self.mode, self.app = "rom", None
                self.rom = RomLoader(self.flash, on_reboot=self._reboot_later, on_baud=self._set_baud,
                                     on_watchdog=self._arm_watchdog)
                self.to_host.write(ROM_DOWNLOAD_TEXT)
                return
            self.rom = None
            text, firmware = self._second_stage()
            if firmware is None:
                self.mode, self.app = "halted", None
                self.to_host.write(text)
                return
            slots = ModelSlots(self.flash, {p.name: p for p in self._partitions}, self.options.slot_bytes)
            self.app = FirmwareApp(self.board, slots, self.options.esp_nn, self.options.realtime, self.faults,
                                   (firmware.project_name, firmware.version))
            self.mode = "app"
            self.to_host.write(text + self.app.boot())

    def _second_stage(self) -> tuple[bytes, app_image.AppInfo | None]:
        """What the ROM and the second-stage bootloader check before the app runs."""
        rom = b"ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n"
        if not app_image.check_image(self.flash.read(0, 0x8000)):
            return rom + b"invalid header: 0x%08x\r\n" % int.from_bytes(self.flash.read(0, 4), "little"), None
        try:
            self._partitions = from_binary(self.flash.read(TABLE_OFFSET, TABLE_SIZE))
            app = app_partition(self._partitions)
            names = {p.name for p in self._partitions}
            if not {"model_a", "model_b"} <= names:
                raise PartitionError("no model partitions")
        except PartitionError as exc:
            return rom + f"E (75) boot: partition table: {exc.message}\r\n".encode(), None
        info = app_image.app_info(self.flash.read(app.offset, app.size))
        if info is None:
            return rom + b"E (95) esp_image: image at 0x%x has invalid magic byte\r\n" % app.offset + \
                b"E (101) boot: Factory app partition is not bootable\r\nE (107) boot: No bootable app partitions\r\n", None
        return rom + f"I (60) boot: Loaded app from partition at offset 0x{app.offset:x}\r\n".encode(), info

    def _reboot_later(self, download: bool) -> None:
        """A reboot asked for while a command is answered: happens once the answer is out."""
        self._pending_reboot = download

    def _arm_watchdog(self) -> None:
        """The RTC watchdog esptool arms fires after its timeout, then the app boots."""
        timer = threading.Timer(WATCHDOG_DELAY_S, self.boot, kwargs={"download": False})
        timer.daemon = True
        timer.start()

    def _set_baud(self, baud: int) -> None:
        if self.options.baud:
            for pipe in (self.to_device, self.to_host):
                pipe.byte_time = 10 / baud

    # --- models -------------------------------------------------------------------------------
    def install_model(self, data: bytes) -> None:
        """Put a model in the inactive slot and make it the active one, as flashing it would."""
        partitions = {p.name: p for p in from_binary(self.flash.read(TABLE_OFFSET, TABLE_SIZE))}
        slots = ModelSlots(self.flash, partitions, self.options.slot_bytes)
        slots.store(slots.inactive_index, data)
        if self.running:
            self.boot(download=False)

    # --- serving ------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self.to_device.read_available(0.05)
            if not data:
                continue
            with self._lock:
                try:
                    reply = self._receive(data)
                except PowerCut:
                    self.mode = "off"  # dead until power_cycle()
                    continue
                if reply:
                    self.to_host.write(reply)
                if self._pending_reboot is not None:
                    download, self._pending_reboot = self._pending_reboot, None
                    self.boot(download)
                elif self.app is not None and self.app.reset_requested:
                    self.boot(download=False)

    def _receive(self, data: bytes) -> bytes:
        if self.mode == "rom":
            return self.rom.receive(data)
        if self.mode == "app":
            if self.options.sync_enters_download and ESPTOOL_SYNC in data:
                self._pending_reboot = True
                return b""
            return self.app.receive(data)
        return b""  # off or halted: nothing listens


