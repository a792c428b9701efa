"""The ESP32-S3 ROM: its boot messages, its serial bootloader, and esptool's flasher stub by behaviour.

Command opcodes, register addresses, the chip ID and the data checksum come from esptool's own
ESP32-S3 target (``esptool.targets.ESP32S3ROM``, ``esptool.loader.ESPLoader``), so the emulation
answers what esptool asks with esptool's numbers. Implemented: SYNC, READ_REG / WRITE_REG (eFuse
words; the SPI1 user-command registers, so RDID and SFDP reads reach the flash chip once
SPI_ATTACH connected it; the RTC watchdog), GET_SECURITY_INFO, SPI_ATTACH, SPI_SET_PARAMS,
MEM_BEGIN/DATA/END (esptool's own stub is recognised by its image and then emulated: no Xtensa
code runs), FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END, SPI_FLASH_MD5, READ_FLASH_SLOW (ROM),
READ_FLASH, ERASE_FLASH, ERASE_REGION, RUN_USER_CODE (stub), CHANGE_BAUDRATE. See docs/virtual_board.md.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import json
import struct
import threading
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import resources

from esptool.loader import ESPLoader
from esptool.targets import ESP32S3ROM

from toolkit.virtual.flash import FlashMemory
from toolkit.virtual.link import PacedPipe
from toolkit.virtual.slip import SlipDecoder, slip_encode

CHIP = ESP32S3ROM
_NAMES = {op: name for name, op in ESPLoader.ESP_CMDS.items()}  # opcode -> esptool's command name

# ROM failure reasons (second status byte). esptool names only 0x05; the others appear in its
# FatalError.WithResult table as 0x106 "running result is wrong", 0x107 "Checksum error", ...
ERR_INVALID_MESSAGE = ESPLoader.ROM_INVALID_RECV_MSG
ERR_FAILED, ERR_BAD_CRC, ERR_FLASH_WRITE, ERR_FLASH_READ, ERR_DEFLATE = 0x06, 0x07, 0x08, 0x09, 0x0B
SYNC_REPLY_VALUE = 0x20120707  # any non-zero value tells esptool the ROM (not the stub) answered

# SPI1 registers as esptool's run_spiflash_command uses them (CMD at +0, ADDR at +4)
SPI_CMD, SPI_ADDR = CHIP.SPI_REG_BASE, CHIP.SPI_REG_BASE + 4
SPI_USR, SPI_USR2 = CHIP.SPI_REG_BASE + CHIP.SPI_USR_OFFS, CHIP.SPI_REG_BASE + CHIP.SPI_USR2_OFFS
SPI_MISO_DLEN, SPI_W0 = CHIP.SPI_REG_BASE + CHIP.SPI_MISO_DLEN_OFFS, CHIP.SPI_REG_BASE + CHIP.SPI_W0_OFFS
SPI_CMD_USR = 1 << 18  # start the user command; the hardware clears it when done
SPI_USR_MISO = 1 << 28  # the user command has a read phase
WDT_EN = 1 << 31  # in RTC_CNTL_WDTCONFIG0: esptool's watchdog reset sets it

# SPI NOR commands the flash chip answers, and what it answers with
RDID, RDSFDP, RDSR, RDSR2, RDSR3 = 0x9F, 0x5A, 0x05, 0x35, 0x15
WINBOND, QUAD_NOR = 0xEF, 0x40  # JEDEC manufacturer and memory type of a W25Q
SFDP_BFPT_OFFSET = 0x80

RETRY_PERIOD_S = 0.1  # how often the ROM repeats a failed flash boot's complaint
BACKLOG_BYTES = 4096  # repeated complaints stop piling up once this much output waits unread


class ResetReason(enum.IntEnum):
    """Reset causes, named and numbered as the ESP32-S3 ROM prints them after ``rst:``."""

    POWERON = 0x01  # power-on, or EN (CHIP_PU) pulled low: the auto-reset circuit's RTS
    RTCWDT_RTC_RESET = 0x10  # the RTC watchdog, as esptool's --after watchdog-reset arms it
    USB_UART_CHIP_RESET = 0x15  # the USB-Serial/JTAG peripheral, as esptool's usb-reset asks


def banner(reason: ResetReason, download: bool) -> bytes:
    """The lines the ROM prints right after a reset."""
    boot = "0x0 (DOWNLOAD(USB/UART0))" if download else "0x8 (SPI_FAST_FLASH_BOOT)"
    text = f"ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:{reason:#x} ({reason.name}),boot:{boot}\r\n"
    return (text + ("waiting for download\r\n" if download else "")).encode()


def invalid_header(first_word: bytes) -> bytes:
    """The ROM's complaint when flash offset 0 holds no bootloader image."""
    return b"invalid header: 0x%08x\r\n" % int.from_bytes(first_word, "little")


def repeat_while(text: bytes, out: PacedPipe, lock: AbstractContextManager, still: Callable[[], bool]) -> None:
    """Print ``text`` every RETRY_PERIOD_S for as long as ``still()`` holds (asked under ``lock``),
    as the ROM retries a flash boot that fails. Nothing is added while BACKLOG_BYTES wait unread."""

    def tick() -> None:
        with lock:
            if not still():
                return
            if out.available() < BACKLOG_BYTES:
                out.write(text)
        repeat_while(text, out, lock, still)

    timer = threading.Timer(RETRY_PERIOD_S, tick)
    timer.daemon = True
    timer.start()


def jedec_id(size: int) -> bytes:
    """RDID's three bytes for a Winbond quad SPI NOR of ``size`` bytes: maker, type, log2(size)."""
    return bytes([WINBOND, QUAD_NOR, size.bit_length() - 1])


def sfdp_table(size: int) -> bytes:
    """A JEDEC JESD216 SFDP table for a W25Q-like quad SPI NOR of ``size`` bytes (up to 16 MB):
    the "SFDP" header, one parameter header, and the 9-word basic flash parameter table."""
    header = b"SFDP" + bytes([0x00, 0x01, 0x00, 0xFF])  # revision 1.0, one parameter header
    parameter_header = bytes([0x00, 0x00, 0x01, 9]) + SFDP_BFPT_OFFSET.to_bytes(3, "little") + b"\xff"
    bfpt = struct.pack(
        "<9I",
        0xFFF120E5,  # 4 KB erase everywhere (0x20); 1-1-2, 1-2-2, 1-4-4, 1-1-4 reads; 3-byte addresses
        size * 8 - 1,  # density in bits, minus one
        0x6B08EB44,  # 1-4-4 read 0xEB (4 dummy + 2 mode clocks), 1-1-4 read 0x6B (8 dummy)
        0xBB423B08,  # 1-1-2 read 0x3B (8 dummy), 1-2-2 read 0xBB (2 dummy + 2 mode clocks)
        0xFFFFFFEE,  # no 2-2-2 or 4-4-4 reads
        0x0000FFFF, 0x0000FFFF,  # (2-2-2 and 4-4-4 read instructions: none)
        0x520F200C,  # erase types: 4 KB with 0x20, 32 KB with 0x52
        0x0000D810,  # 64 KB with 0xD8
    )
    return (header + parameter_header).ljust(SFDP_BFPT_OFFSET, b"\xff") + bfpt


def flash_chip_answer(size: int, command: int, address: int) -> bytes:
    """What the flash chip shifts out after ``command`` (b"": it does not drive the data line)."""
    if command == RDID:
        return jedec_id(size)
    if command == RDSFDP:
        return sfdp_table(size)[address:]
    if command in (RDSR, RDSR2, RDSR3):
        return b"\x00"  # idle, nothing write-protected
    return b""


@functools.cache
def esptool_stub_entries() -> dict[int, bytes]:
    """Entry point -> SHA-256 of the text segment, for every ESP32-S3 stub esptool ships."""
    entries = {}
    root = resources.files("esptool").joinpath("targets", "stub_flasher")
    for folder in root.iterdir():
        candidate = folder.joinpath("esp32s3.json")
        if candidate.is_file():
            stub = json.loads(candidate.read_text())
            entries[stub["entry"]] = hashlib.sha256(base64.b64decode(stub["text"])).digest()
    return entries


@dataclass
class Transfer:
    offset: int
    size: int
    block_size: int
    written: int = 0
    inflater: object | None = None


@dataclass
class RomLoader:
    """Bytes in, bytes out. ``on_reboot(download)`` is called when the chip restarts itself.

    ``attached`` says whether SPI_ATTACH routed the flash pins: until then raw SPI commands read
    all ones (the data line floats high). esptool's stub attaches the flash when it starts.
    """

    flash: FlashMemory
    on_reboot: Callable[[bool], None]
    on_baud: Callable[[int], None] = lambda baud: None
    on_watchdog: Callable[[], None] = lambda: None
    mac: bytes = bytes.fromhex("f412fa4c3a10")
    stub: bool = False
    attached: bool = False
    regs: dict[int, int] = field(default_factory=dict)
    ram: dict[int, bytearray] = field(default_factory=dict)
    decoder: SlipDecoder = field(default_factory=SlipDecoder)
    transfer: Transfer | None = None
    mem: tuple[int, int] | None = None  # (address, size) of the RAM download in progress

    def __post_init__(self) -> None:
        mac = self.mac
        self.regs.update({
            CHIP.MAC_EFUSE_REG: int.from_bytes(mac[2:6], "big"),
            CHIP.MAC_EFUSE_REG + 4: int.from_bytes(mac[0:2], "big"),
            CHIP.EFUSE_BLOCK1_ADDR + 4 * 3: 2 << 18,  # minor chip revision 2: ESP32-S3 v0.2
            CHIP.UART_DATE_REG_ADDR: 0x2101280,
        })

    # --- framing ------------------------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        out = bytearray()
        for frame in self.decoder.feed(data):
            if len(frame) < 8 or frame[0] != 0x00:
                continue  # read-flash acknowledgements and noise
            op, length, checksum = struct.unpack_from("<BHI", frame, 1)
            payload = frame[8:8 + length]
            out += self._handle(op, payload, checksum)  # a PowerCut ends the board's answer here
        return bytes(out)

    def _status(self, error: int = 0) -> bytes:
        ok = b"\x00\x00" if not error else bytes([1, error])
        return ok if self.stub else ok + b"\x00\x00"

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        body = data + self._status(error)
        return slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body)

    # --- commands -----------------------------------------------------------------------------
    def _handle(self, op: int, payload: bytes, checksum: int) -> bytes:
        name = _NAMES.get(op)
        handler = self._HANDLERS.get(name)
        if handler is None or (name in self._STUB_ONLY and not self.stub):
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        try:
            return handler(self, op, payload, checksum)
        except struct.error:  # a payload too short for its command: the ROM answers with an error
            return self._reply(op, error=ERR_INVALID_MESSAGE)

    def _sync(self, op, payload, checksum) -> bytes:
        value = 0 if self.stub else SYNC_REPLY_VALUE
        return self._reply(op, value) * 8

    def _read_reg(self, op, payload, checksum) -> bytes:
        (address,) = struct.unpack_from("<I", payload)
        return self._reply(op, self.regs.get(address, 0))

    def _write_reg(self, op, payload, checksum) -> bytes:
        for i in range(0, len(payload) - 15, 16):
            address, value, mask, _delay = struct.unpack_from("<IIII", payload, i)
            old = self.regs.get(address, 0)
            self.regs[address] = (old & ~mask) | (value & mask)
            if address == SPI_CMD and value & SPI_CMD_USR:
                self._spi_user_command()
            if address == CHIP.RTC_CNTL_WDTCONFIG0_REG and value & WDT_EN:
                self.on_watchdog()  # armed: it fires a moment later and the chip boots from flash
        return self._reply(op)

    def _spi_user_command(self) -> None:
        """Run the SPI1 user command esptool set up; only its read phase has an effect here."""
        if self.regs.get(SPI_USR, 0) & SPI_USR_MISO:
            bits = self.regs.get(SPI_MISO_DLEN, 0) + 1
            command, address = self.regs.get(SPI_USR2, 0) & 0xFF, self.regs.get(SPI_ADDR, 0)
            answer = flash_chip_answer(self.flash.size, command, address) if self.attached else b""
            data = answer[:(bits + 7) // 8].ljust((bits + 7) // 8, b"\xff")  # undriven: all ones
            self.regs[SPI_W0] = int.from_bytes(data, "little") & ((1 << bits) - 1)
        self.regs[SPI_CMD] = 0  # done

    def _security_info(self, op, payload, checksum) -> bytes:
        info = struct.pack("<IB7BII", 0, 0, *([0] * 7), CHIP.IMAGE_CHIP_ID, 0)
        return self._reply(op, data=info)

    def _ok(self, op, payload, checksum) -> bytes:
        return self._reply(op)

    def _spi_attach(self, op, payload, checksum) -> bytes:
        self.attached = True
        return self._reply(op)

    def _mem_begin(self, op, payload, checksum) -> bytes:
        size, _blocks, _block_size, address = struct.unpack_from("<IIII", payload)
        self.mem = (address, size)
        self.ram[address] = bytearray()
        return self._reply(op)

    def _mem_data(self, op, payload, checksum) -> bytes:
        length, _seq = struct.unpack_from("<II", payload)
        data = payload[16:16 + length]
        if self.mem is None or ESPLoader.checksum(data) != checksum:
            return self._reply(op, error=ERR_BAD_CRC if self.mem else ERR_FAILED)
        self.ram[self.mem[0]] += data
        return self._reply(op)

    def _mem_end(self, op, payload, checksum) -> bytes:
        _no_entry, entry = struct.unpack_from("<II", payload)
        reply = self._reply(op)
        known = esptool_stub_entries()
        texts = {hashlib.sha256(bytes(data)).digest() for data in self.ram.values()}
        if entry in known and known[entry] in texts:
            self.stub = self.attached = True
            return reply + slip_encode(b"OHAI")
        return reply  # other code would run now; it says nothing we can model

    def _flash_begin(self, op, payload, checksum) -> bytes:
        size, _blocks, block_size, offset = struct.unpack_from("<IIII", payload)
        if offset + size > self.flash.size:
            return self._reply(op, error=ERR_FAILED)
        self.flash.erase(offset, size)
        self.transfer = Transfer(offset, size, block_size)
        return self._reply(op)

    def _flash_data(self, op, payload, checksum) -> bytes:
        length, seq = struct.unpack_from("<II", payload)
        data = payload[16:16 + length]
        if self.transfer is None:
            return self._reply(op, error=ERR_FAILED)
        if ESPLoader.checksum(data) != checksum:
            return self._reply(op, error=ERR_BAD_CRC)
        t = self.transfer
        address = t.offset + seq * t.block_size
        data = data[:max(0, self.flash.size - address)]
        self.flash.program(address, data)
        t.written += len(data)
        return self._reply(op)

    def _flash_end(self, op, payload, checksum) -> bytes:
        """The ROM leaves the bootloader on any FLASH_END (0: reboot, 1: run the app); the stub
        only reboots on 0 and otherwise stays."""
        reboot = len(payload) >= 4 and struct.unpack_from("<I", payload)[0] == 0
        self.transfer = None
        reply = self._reply(op)
        if reboot or not self.stub:
            self.on_reboot(False)
        return reply

    def _defl_begin(self, op, payload, checksum) -> bytes:
        size, _blocks, block_size, offset = struct.unpack_from("<IIII", payload)
        if offset + size > self.flash.size:
            return self._reply(op, error=ERR_FAILED)
        self.flash.erase(offset, size)
        self.transfer = Transfer(offset, size, block_size, inflater=zlib.decompressobj())
        return self._reply(op)

    def _defl_data(self, op, payload, checksum) -> bytes:
        length, _seq = struct.unpack_from("<II", payload)
        data = payload[16:16 + length]
        t = self.transfer
        if t is None or t.inflater is None:
            return self._reply(op, error=ERR_FAILED)
        if ESPLoader.checksum(data) != checksum:
            return self._reply(op, error=ERR_BAD_CRC)
        try:
            plain = t.inflater.decompress(data)
        except zlib.error:
            return self._reply(op, error=ERR_DEFLATE)
        if plain:
            address = t.offset + t.written
            if address + len(plain) > self.flash.size:
                return self._reply(op, error=ERR_FLASH_WRITE)
            if address + len(plain) > t.offset + t.size:
                self.flash.erase(address, len(plain))  # the stub erases as it goes
            self.flash.program(address, plain)
            t.written += len(plain)
        return self._reply(op)

    def _md5(self, op, payload, checksum) -> bytes:
        address, size = struct.unpack_from("<II", payload)
        if address + size > self.flash.size:
            return self._reply(op, error=ERR_FLASH_READ)
        digest = self.flash.md5(address, size)
        return self._reply(op, data=digest if self.stub else digest.hex().encode())

    def _read_slow(self, op, payload, checksum) -> bytes:
        address, length = struct.unpack_from("<II", payload)
        if length > 64 or address + length > self.flash.size:
            return self._reply(op, error=ERR_FLASH_READ)
        return self._reply(op, data=self.flash.read(address, length).ljust(64, b"\xff"))

    def _read_flash(self, op, payload, checksum) -> bytes:
        address, length, block, _in_flight = struct.unpack_from("<IIII", payload)
        if address + length > self.flash.size:
            return self._reply(op, error=ERR_FLASH_READ)
        data = self.flash.read(address, length)
        out = bytearray(self._reply(op))
        for start in range(0, length, block):
            out += slip_encode(data[start:start + block])
        return bytes(out + slip_encode(hashlib.md5(data).digest()))

    def _erase_flash(self, op, payload, checksum) -> bytes:
        self.flash.erase(0, self.flash.size)
        return self._reply(op)

    def _erase_region(self, op, payload, checksum) -> bytes:
        offset, size = struct.unpack_from("<II", payload)
        if offset % CHIP.FLASH_SECTOR_SIZE or size % CHIP.FLASH_SECTOR_SIZE or offset + size > self.flash.size:
            return self._reply(op, error=ERR_FAILED)
        self.flash.erase(offset, size)
        return self._reply(op)

    def _change_baud(self, op, payload, checksum) -> bytes:
        (baud,) = struct.unpack_from("<I", payload)
        reply = self._reply(op)
        self.on_baud(baud)
        return reply

    def _run_user_code(self, op, payload, checksum) -> bytes:
        self.on_reboot(False)
        return b""

    _HANDLERS = {
        "SYNC": _sync, "READ_REG": _read_reg, "WRITE_REG": _write_reg, "GET_SECURITY_INFO": _security_info,
        "SPI_ATTACH": _spi_attach, "SPI_SET_PARAMS": _ok,
        "MEM_BEGIN": _mem_begin, "MEM_DATA": _mem_data, "MEM_END": _mem_end,
        "FLASH_BEGIN": _flash_begin, "FLASH_DATA": _flash_data, "FLASH_END": _flash_end,
        "FLASH_DEFL_BEGIN": _defl_begin, "FLASH_DEFL_DATA": _defl_data, "FLASH_DEFL_END": _flash_end,
        "SPI_FLASH_MD5": _md5, "READ_FLASH_SLOW": _read_slow, "READ_FLASH": _read_flash,
        "ERASE_FLASH": _erase_flash, "ERASE_REGION": _erase_region, "CHANGE_BAUDRATE": _change_baud,
        "RUN_USER_CODE": _run_user_code,
    }
    _STUB_ONLY = {"READ_FLASH", "ERASE_FLASH", "ERASE_REGION", "RUN_USER_CODE"}
