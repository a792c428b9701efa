"""The ESP32-S3 ROM serial bootloader, and esptool's flasher stub by behaviour, over SLIP.

Implemented: SYNC, READ_REG / WRITE_REG (eFuse words, and the SPI1 user-command registers so
flash identification works), GET_SECURITY_INFO, SPI_ATTACH, SPI_SET_PARAMS, MEM_BEGIN/DATA/END
(esptool's own stub is recognised by its image and then emulated: no Xtensa code runs),
FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END, SPI_FLASH_MD5, READ_FLASH_SLOW (ROM),
READ_FLASH, ERASE_FLASH, ERASE_REGION, RUN_USER_CODE (stub), CHANGE_BAUDRATE, and the RTC
watchdog reset. See docs/virtual_board.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources


from toolkit.image.app_image import esp_checksum
from toolkit.virtual.flash import FlashMemory
from toolkit.virtual.slip import SlipDecoder, slip_encode

SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5, GET_SECURITY_INFO = 0x10, 0x11, 0x12, 0x13, 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE = 0xD0, 0xD1, 0xD2, 0xD3

# ROM status codes (second status byte) as esptool names them
ERR_INVALID_MESSAGE, ERR_FAILED, ERR_BAD_CRC, ERR_FLASH_WRITE, ERR_FLASH_READ, ERR_DEFLATE = 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B

CHIP_ID_ESP32S3 = 9
SPI_BASE = 0x60002000
SPI_CMD, SPI_USR2, SPI_W0 = SPI_BASE + 0x00, SPI_BASE + 0x20, SPI_BASE + 0x58
SPI_CMD_USR = 1 << 18
RTC_WDT_CONFIG0 = 0x60008098
EFUSE_MAC0, EFUSE_MAC1 = 0x60007044, 0x60007048
EFUSE_BLOCK1_WORD3 = 0x60007050
UART_DATE = 0x60000080
JEDEC_IDS = {8 << 20: 0x1740EF, 16 << 20: 0x1840EF, 4 << 20: 0x1640EF}  # Winbond W25Q32/64/128
SYNC_REPLY_VALUE = 0x20120707


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
    """Bytes in, bytes out. ``on_reboot(download)`` is called when the chip restarts itself."""

    flash: FlashMemory
    on_reboot: Callable[[bool], None]
    on_baud: Callable[[int], None] = lambda baud: None
    on_watchdog: Callable[[], None] = lambda: None
    mac: bytes = bytes.fromhex("f412fa4c3a10")
    stub: bool = False
    regs: dict[int, int] = field(default_factory=dict)
    ram: dict[int, bytearray] = field(default_factory=dict)
    decoder: SlipDecoder = field(default_factory=SlipDecoder)
    transfer: Transfer | None = None
    mem: tuple[int, int] | None = None  # (address, size) of the RAM download in progress

    def __post_init__(self) -> None:
        mac = self.mac
        self.regs.update({
            EFUSE_MAC0: int.from_bytes(mac[2:6], "big"), EFUSE_MAC1: int.from_bytes(mac[0:2], "big"),
            EFUSE_BLOCK1_WORD3: (2 << 18),  # minor chip revision 2: ESP32-S3 v0.2
            UART_DATE: 0x2101280,
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
        handler = self._HANDLERS.get(op)
        if handler is None or (op in self._STUB_ONLY and not self.stub):
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        return handler(self, op, payload, checksum)

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
            if address == RTC_WDT_CONFIG0 and value & (1 << 31):
                self.on_watchdog()  # armed: it fires a moment later and the chip boots the app
        return self._reply(op)

    def _spi_user_command(self) -> None:
        command = self.regs.get(SPI_USR2, 0) & 0xFF
        if command == 0x9F:  # RDID
            self.regs[SPI_W0] = JEDEC_IDS.get(self.flash.size, 0x1740EF)
        else:  # SFDP, status reads, resets, write enable: nothing to report
            self.regs[SPI_W0] = 0
        self.regs[SPI_CMD] = 0  # done

    def _security_info(self, op, payload, checksum) -> bytes:
        info = struct.pack("<IB7BII", 0, 0, *([0] * 7), CHIP_ID_ESP32S3, 0)
        return self._reply(op, data=info)

    def _ok(self, op, payload, checksum) -> bytes:
        return self._reply(op)

    def _mem_begin(self, op, payload, checksum) -> bytes:
        size, _blocks, _block_size, address = struct.unpack_from("<IIII", payload)
        self.mem = (address, size)
        self.ram[address] = bytearray()
        return self._reply(op)

    def _mem_data(self, op, payload, checksum) -> bytes:
        length, _seq = struct.unpack_from("<II", payload)
        data = payload[16:16 + length]
        if self.mem is None or esp_checksum(data) != checksum:
            return self._reply(op, error=ERR_BAD_CRC if self.mem else ERR_FAILED)
        self.ram[self.mem[0]] += data
        return self._reply(op)

    def _mem_end(self, op, payload, checksum) -> bytes:
        _no_entry, entry = struct.unpack_from("<II", payload)
        reply = self._reply(op)
        known = esptool_stub_entries()
        texts = {hashlib.sha256(bytes(data)).digest() for data in self.ram.values()}
        if entry in known and known[entry] in texts:
            self.stub = True
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
        if esp_checksum(data) != checksum:
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
        if esp_checksum(data) != checksum:
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
        if offset % 4096 or size % 4096 or offset + size > self.flash.size:
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
        SYNC: _sync, READ_REG: _read_reg, WRITE_REG: _write_reg, GET_SECURITY_INFO: _security_info,
        SPI_ATTACH: _ok, SPI_SET_PARAMS: _ok, MEM_BEGIN: _mem_begin, MEM_DATA: _mem_data, MEM_END: _mem_end,
        FLASH_BEGIN: _flash_begin, FLASH_DATA: _flash_data, FLASH_END: _flash_end,
        FLASH_DEFL_BEGIN: _defl_begin, FLASH_DEFL_DATA: _defl_data, FLASH_DEFL_END: _flash_end,
        SPI_FLASH_MD5: _md5, READ_FLASH_SLOW: _read_slow, READ_FLASH: _read_flash, ERASE_FLASH: _erase_flash,
        ERASE_REGION: _erase_region, CHANGE_BAUDRATE: _change_baud, RUN_USER_CODE: _run_user_code,
    }
    _STUB_ONLY = {READ_FLASH, ERASE_FLASH, ERASE_REGION, RUN_USER_CODE}
