# The virtual board's `os`: MicroPython's own, plus os.uname() as MicroPython's ports/esp32 build
# answers it (extmod/modos.c): sysname and nodename MICROPY_PY_SYS_PLATFORM ("esp32"), release
# MICROPY_VERSION_STRING, version MICROPY_GIT_TAG " on " MICROPY_BUILD_DATE, machine
# MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME (ports/esp32/boards/ESP32_GENERIC_S3/
# mpconfigboard.h: "Generic ESP32S3 module", "ESP32S3"). Release and version are this interpreter's.
import sys
from os import *  # noqa: F401,F403

PLATFORM = "esp32"
_FIELDS = ("sysname", "nodename", "release", "version", "machine")


class _Uname(tuple):
    """An attribute tuple, as mp_os_uname_info_obj is: indexable, named fields, the same repr."""

    def __getattr__(self, name):
        if name in _FIELDS:
            return self[_FIELDS.index(name)]
        raise AttributeError(name)

    def __repr__(self):
        return "(" + ", ".join("%s=%r" % (k, v) for k, v in zip(_FIELDS, self)) + ")"

    __str__ = __repr__


_info = None


def configure(board_name, mcu_name):
    """At boot: the board definition's names."""
    global _info
    tag = sys.version.split("; MicroPython ", 1)[-1]  # "v1.27.0 on 2026-06-02": MICROPY_GIT_TAG on MICROPY_BUILD_DATE
    release = ".".join(str(v) for v in sys.implementation.version[:3])
    if "-preview" in tag.split(" on ")[0]:
        release += "-preview"  # MICROPY_VERSION_PRERELEASE
    _info = _Uname((PLATFORM, PLATFORM, release, tag, board_name + " with " + mcu_name))


def uname():
    return _info
