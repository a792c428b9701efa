"""A running virtual ESP32-S3: flash, a boot sequence, the reset circuit, ROM or application side.

After a reset the board samples IO0: low boots the ROM serial bootloader (esptool talks to
it), high boots from flash: the second-stage bootloader at 0x0 must be a valid image, the
partition table at 0x8000 must read, the app partition must hold a valid application image;
then our firmware runs the newest verified model slot and serves the protocol. EN and IO0 sit
behind the usual two-transistor auto-reset circuit on DTR and RTS.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from dataclasses import dataclass

from toolkit.boards import get_board
from toolkit.image import app_image
from toolkit.image.partitions import (MODEL_SLOTS, TABLE_OFFSET, TABLE_SIZE, PartitionError, app_partition, from_binary,
                                      load_csv, model_slots, to_binary)
from toolkit.image.model_image import build_image, choose_slot, write_order
from toolkit.model import load_model
from toolkit.virtual.chip import FaultPlan, SimulatedChip
from toolkit.virtual.faults import FaultyLine, LinkFaults
from toolkit.virtual.firmware import FirmwareImage, HostFirmware
from toolkit.virtual.flash import FlashMemory, PowerCut
from toolkit.virtual.link import PacedPipe
from toolkit.virtual.rom import ResetReason, RomLoader, banner, invalid_header, repeat_while
from toolkit.virtual.usb_link import UsbTx
from toolkit.virtual.supply import SupplyLine

WATCHDOG_DELAY_S = 0.1  # esptool's RTC watchdog timeout, about 100 ms of the slow clock
STRAP_SAMPLE_DELAY_S = 0.1  # the strap sample this long after EN rises (see set_lines)
ESPTOOL_SYNC = b"\xc0\x00\x08\x24\x00"  # start of esptool's SYNC command
FIRMWARE_NAME = "espml-fw"  # the project name in the app image a new virtual board carries
MICROPYTHON = "micropython"  # the project name in MicroPython's ESP32-S3 images


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
    reset_every: int | None = None  # reset after every N inferences since boot
    slow: float = 1.0  # scale the simulated Invoke() time
    draw: float = 1.0  # scale the modelled current above idle
    corrupt_outputs: bool = False  # flip a bit of every output
    corrupt_op: int | None = None  # operator N's output is wrong, and so is what follows from it
    link: LinkFaults = LinkFaults()  # what the cable does to the bytes, each direction
    power_cut_after: int | None = None  # the supply fails after this many more bytes written to flash
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
        faulty = opts.link.active
        self.to_device = PacedPipe(opts.baud, opts.latency_us / 1e6, faults=FaultyLine(opts.link, 0) if faulty else None)
        self.to_host = PacedPipe(opts.baud, opts.latency_us / 1e6, faults=FaultyLine(opts.link, 1) if faulty else None)
        self.usb = UsbTx(self.to_host)  # the firmware's frames pass the driver's TX buffer
        if opts.power_cut_after is not None:
            self.flash.cut_after = opts.power_cut_after
        self.mode = "off"  # "app", "rom", "halted" (nothing bootable) or "off" (in reset, no power)
        self.app: HostFirmware | None = None
        self.micropython = None  # a VirtualMicroPythonBoard when a MicroPython image was flashed
        self._micropython_fs: tempfile.TemporaryDirectory | None = None
        self.rom: RomLoader | None = None
        self.supply = SupplyLine(self.board.idle_current_ma, self.board.supply_volts)  # what a meter beside it sees
        self.faults = FaultPlan(opts.hang_after, opts.reset_after, opts.reset_every, opts.slow, opts.corrupt_outputs,
                                opts.corrupt_op, opts.draw)
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
        self._stop_app()
        self.flash.flush()

    def close(self) -> None:
        """Power off for good: the flash (and its file) are released."""
        self.power_off()
        self.flash.close()

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

    def boot(self, download: bool, reason: ResetReason = ResetReason.POWERON) -> None:
        with self._lock:
            self.boots += 1
            self.to_device.clear()
            self._stop_app()
            if download:
                self.mode, self.app = "rom", None
                self.rom = RomLoader(self.flash, on_reboot=self._reboot_later, on_baud=self._set_baud,
                                     on_watchdog=self._arm_watchdog)
                self.to_host.write(banner(reason, download=True))
                return
            self.rom = None
            text, firmware = self._second_stage(reason)
            if firmware is None:
                self.mode, self.app = "halted", None
                self.to_host.write(text)
                return
            self.to_host.write(text)
            if firmware.project_name == MICROPYTHON:
                self._start_micropython()
            else:
                self._start_app(FirmwareImage(firmware.project_name, firmware.version))

    def _start_app(self, image: FirmwareImage) -> None:
        """Our firmware's own code (device/core on the host port) starts on a fresh chip."""
        partitions = {p.name: p for p in self._partitions}
        slots = [partitions[name] for name in MODEL_SLOTS]
        slot_size = min(self.options.slot_bytes or slots[0].size, *(p.size for p in slots))
        chip = SimulatedChip(self.board, self.options.esp_nn, self.options.realtime, self.faults, self.supply)
        self.app = HostFirmware(chip, self.flash, (slots[0].offset, slots[1].offset), slot_size, image, self.usb)
        self.mode = "app"
        self.app.boot()

    def _start_micropython(self) -> None:
        """A MicroPython image on flash: MicroPython runs (its filesystem in a folder of the host)."""
        from toolkit.micropython.virtual import MicroPythonOptions, VirtualMicroPythonBoard

        if self._micropython_fs is None:  # its vfs partition: kept across reboots and firmware updates
            self._micropython_fs = tempfile.TemporaryDirectory(prefix="espml-mpy-fs-")
        options = MicroPythonOptions(board=self.options.board, fs_dir=self._micropython_fs.name)
        self.micropython = VirtualMicroPythonBoard(options, pipes=(self.to_device, self.to_host))
        self.micropython.power_on()
        self.mode = "micropython"

    def _stop_app(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None
        if self.micropython is not None:
            self.micropython.power_off()
            self.micropython = None

    def _second_stage(self, reason: ResetReason) -> tuple[bytes, app_image.AppInfo | None]:
        """What the ROM and the second-stage bootloader check before the app runs. Without a
        bootloader image the ROM retries, repeating its complaint while the board stays halted."""
        rom = banner(reason, download=False)
        if not app_image.check_image(self.flash.read(0, 0x8000)):
            complaint, boots = invalid_header(self.flash.read(0, 4)), self.boots
            repeat_while(complaint, self.to_host, self._lock, lambda: self.mode == "halted" and self.boots == boots)
            return rom + complaint, None
        try:
            self._partitions = from_binary(self.flash.read(TABLE_OFFSET, TABLE_SIZE))
            app = app_partition(self._partitions)
            model_slots(self._partitions, self.flash.size)  # as the firmware finds them, or it finds none
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
        """The RTC watchdog esptool arms fires after its timeout, then the chip boots from flash."""
        timer = threading.Timer(WATCHDOG_DELAY_S, self.boot, args=(False, ResetReason.RTCWDT_RTC_RESET))
        timer.daemon = True
        timer.start()

    def _set_baud(self, baud: int) -> None:
        if self.options.baud:
            for pipe in (self.to_device, self.to_host):
                pipe.byte_time = 10 / baud

    # --- models -------------------------------------------------------------------------------
    def install_model(self, data: bytes) -> None:
        """Put a model in the inactive slot and make it the active one, as flashing it would."""
        slot, sequence = choose_slot(self.flash.read, from_binary(self.flash.read(TABLE_OFFSET, TABLE_SIZE)))
        for offset, chunk in write_order(slot.offset, build_image(load_model(data), sequence)):
            self.flash.write(offset, chunk)
        if self.running:
            self.boot(download=False)

    # --- serving ------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            if self.mode == "micropython":  # MicroPython reads the line itself
                self._stop.wait(0.05)
                continue
            data = self.to_device.read_available(0.05)
            if self.app is not None:
                with self._lock:
                    if self.app is not None:
                        self.app.poll_link()  # as the firmware's reader does between reads
            if not data:
                continue
            with self._lock:
                try:
                    reply = self._receive(data)
                except PowerCut:
                    reply = b""
                if not self.flash.powered:
                    self._stop_app()
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
        new_connection = self.options.sync_enters_download and ESPTOOL_SYNC in data
        if self.mode == "rom":
            if new_connection and self.rom.stub:  # esptool sends SYNC only to connect: a new esptool run
                self.boot(download=True, reason=ResetReason.USB_UART_CHIP_RESET)
                return b""
            return self.rom.receive(data)
        if self.mode == "app":
            if new_connection:  # on a pty esptool's SYNC stands in for its reset into download mode
                self.boot(download=True, reason=ResetReason.USB_UART_CHIP_RESET)
                return b""
            self.app.receive(data)  # the firmware answers through the link itself
            return b""
        if self.mode == "halted" and new_connection:  # USB-Serial/JTAG resets the chip whatever runs
            self.boot(download=True, reason=ResetReason.USB_UART_CHIP_RESET)
        return b""  # off, or halted: nothing listens


