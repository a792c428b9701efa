"""The firmware's host port, built from ``device/`` with the system C compiler and loaded with ctypes.

The virtual board's application side is the firmware's own code: ``device/core`` (protocol
handler, model slots, frame codec, image parser) and ``device/port/host`` (file-backed NOR flash).
It is compiled on first use into a cache folder keyed by the sources' hash, so an edit to the C
rebuilds it; real boards never need it, so the light install stays compiler-free.
``ESPML_HOST_PORT_SANITIZE=undefined`` builds it with UndefinedBehaviorSanitizer (the tests do);
``=address`` adds AddressSanitizer, whose runtime must then be preloaded into Python
(``LD_PRELOAD=$(cc -print-file-name=libasan.so)``, as tests/test_sanitizers.py does).

    python -m toolkit.virtual.host_port      build it now (the set-up scripts do) and print its path
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path

from toolkit.errors import ToolkitError

SANITIZE_ENV = "ESPML_HOST_PORT_SANITIZE"
CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]
SANITIZERS = {
    "": [],
    "undefined": ["-fsanitize=undefined", "-fno-sanitize-recover=undefined"],
    "address": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"],
}


class HostPortError(ToolkitError):
    """The firmware's host port cannot be built or loaded: no virtual board can be opened."""

    exit_code = 3


def source_dir() -> Path:
    """``device/`` of this checkout or installation (``toolkit/virtual/device_src`` links to it)."""
    return Path(str(resources.files("toolkit.virtual").joinpath("device_src")))


def _sources(root: Path) -> tuple[list[Path], list[Path]]:
    core, host = root / "core", root / "port" / "host"
    c_files = sorted(core.glob("*.c")) + sorted(host.glob("*.c"))
    other = sorted(core.glob("*.h")) + sorted(core.glob("*.inc")) + sorted(host.glob("*.h"))
    return c_files, other


def cache_dir() -> Path:
    """The cache folder of built host ports, made 0700 when new and refused, as ssh refuses a key
    file, when another user owns it or can write to it: a library planted there would run as us."""
    base = Path(os.environ.get("ESPML_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "espml" / "host-port"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(base, base=True)
        for path in (base / "espml", folder):
            path.mkdir(mode=0o700, exist_ok=True)
            _check_private(path)
    except OSError as exc:
        raise HostPortError(f"cannot make the host port's cache folder {folder}: {exc.strerror}",
                            "set ESPML_CACHE_DIR to a folder of yours") from None
    return folder


def _check_private(path: Path, base: bool = False) -> None:
    """Refuse ``path`` unless this user owns it and no one else can write to it. A ``base`` folder
    may also be root's, or writable by all when sticky (/tmp): no one can replace what is ours there."""
    st = path.stat() if base else path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_uid not in ({os.geteuid(), 0} if base else {os.geteuid()}):
        owner = "a symbolic link" if stat.S_ISLNK(st.st_mode) else f"owned by uid {st.st_uid}, not {os.geteuid()}"
        raise HostPortError(f"the host port's cache {path} is {owner}: a library there could be anyone's",
                            "remove it or set ESPML_CACHE_DIR to a folder of yours (mode 0700)")
    if st.st_mode & 0o022 and not (base and st.st_mode & stat.S_ISVTX):
        raise HostPortError(f"the host port's cache {path} can be written by other users "
                            f"(mode {stat.S_IMODE(st.st_mode):04o}): a library there could be anyone's",
                            f"chmod go-w {path}, or set ESPML_CACHE_DIR to a folder of yours (mode 0700)")


def _compiler() -> list[str]:
    compiler = shlex.split(os.environ.get("CC", "cc"))
    if not compiler or shutil.which(compiler[0]) is None:
        raise HostPortError("the virtual board runs the firmware's C code and needs a C compiler, and none was found",
                            "install gcc (Debian/Ubuntu: apt-get install gcc) or set CC; real boards need none")
    return compiler


def build(sanitize: str | None = None) -> Path:
    """Compile the host port if its sources changed; return the library's path. ``sanitize`` is a
    key of SANITIZERS (default: the ESPML_HOST_PORT_SANITIZE environment variable)."""
    sanitize = os.environ.get(SANITIZE_ENV, "") if sanitize is None else sanitize
    if sanitize not in SANITIZERS:
        raise HostPortError(f"{SANITIZE_ENV}={sanitize!r} is not one of {', '.join(filter(None, SANITIZERS))}",
                            "unset it or pick one of those")
    root = source_dir()
    c_files, other = _sources(root)
    if not c_files:
        raise HostPortError(f"the firmware sources are missing from {root}", "reinstall espml")
    compiler = _compiler()
    flags = CFLAGS + SANITIZERS[sanitize]
    digest = hashlib.sha256(" ".join(compiler + flags).encode())
    for path in c_files + other:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    target = cache_dir() / digest.hexdigest()[:16] / "libespml_host.so"
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise HostPortError(f"cannot make {target.parent}: {exc.strerror}",
                            "set ESPML_CACHE_DIR to a folder of yours") from None
    _check_private(target.parent)
    if target.is_file() or target.is_symlink():
        _check_private(target)
        return target
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        command = [*compiler, *flags, f"-I{root / 'core'}", f"-I{root / 'port' / 'host'}", "-o", str(built),
                   *map(str, c_files), "-lm"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise HostPortError(f"building the firmware's host port failed: {result.stderr.strip()[:600]}",
                                "check the C compiler; the sources are in device/")
        built.chmod(0o700)  # whatever the umask: never writable by others
        os.replace(built, target)  # atomic: a concurrent build never sees half a library
    return target


@lru_cache(maxsize=1)
def library() -> ctypes.PyDLL:
    """The built host port, loaded once per process, with its functions' signatures declared."""
    lib = ctypes.PyDLL(str(build()))  # keeps the GIL: the firmware calls back into Python at once
    _declare(lib)
    from toolkit.virtual.port_types import Port

    if lib.espml_host_port_size() != ctypes.sizeof(Port) or \
            lib.espml_host_port_restart_offset() != Port.restart.offset:
        raise HostPortError("the virtual board's view of espml_port_t does not match device/core/espml_port.h",
                            "update toolkit/virtual/port_types.py with the header")
    return lib


def _declare(lib: ctypes.PyDLL) -> None:
    p, u32, i64, size = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int64, ctypes.c_size_t
    signatures = {
        "espml_host_flash_open": (p, [ctypes.c_char_p, u32]),
        "espml_host_flash_close": (None, [p]),
        "espml_host_flash_data": (p, [p]),
        "espml_host_flash_erase": (ctypes.c_int, [p, u32, u32]),
        "espml_host_flash_program": (ctypes.c_int, [p, u32, ctypes.c_char_p, u32]),
        "espml_host_flash_cut_after": (None, [p, i64]),
        "espml_host_flash_power_on": (None, [p]),
        "espml_host_flash_powered": (ctypes.c_int, [p]),
        "espml_host_flash_sync": (ctypes.c_int, [p]),
        "espml_host_device_new": (p, [p, p, ctypes.POINTER(u32)]),
        "espml_host_device_free": (None, [p]),
        "espml_host_device_core": (p, [p]),
        "espml_host_device_log": (None, [p, ctypes.c_int, ctypes.c_char_p]),
        "espml_host_device_mapped": (ctypes.c_int, [p, p]),
        "espml_host_device_set_link": (None, [p, p, p, p, u32]),
        "espml_host_device_host_spoke": (None, [p]),
        "espml_host_device_poll": (None, [p]),
        "espml_host_device_link_counts": (None, [p, ctypes.POINTER(u32)]),
        "espml_host_port_size": (size, []),
        "espml_host_port_restart_offset": (size, []),
        "espml_device_boot": (None, [p]),
        "espml_device_feed": (None, [p, ctypes.c_char_p, size]),
        "espml_device_debug_write": (None, [p, ctypes.c_char_p, size]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes


def main() -> int:
    started = time.perf_counter()
    try:
        path = build()
    except HostPortError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({time.perf_counter() - started:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
