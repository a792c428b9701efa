# The virtual board's `gc` for programs: the GC heap of the ESP32-S3 MicroPython board it stands
# for (its size from toolkit.micropython.heap), collect() a no-op (the board collects between REPL
# commands; see vboard.run). In use: what MicroPython itself holds after boot (measured in this
# interpreter) plus what the microlite stand-in allocates (the model it holds and its tensor area),
# released when the REPL command that made them ends. Modelled, so simulated.
import gc as _gc

isenabled = _gc.isenabled
_heap = 0
_boot = 0
_held = 0


def configure(heap_bytes):
    """At boot: the modelled heap, and what is already in use (no collection here: in this WASI
    build one under live C frames frees live objects)."""
    global _heap, _boot
    _heap, _boot = heap_bytes, _gc.mem_alloc()


def mem_alloc():
    return _boot + _held


def mem_free():
    return max(0, _heap - mem_alloc())


def allocate(size):
    """A large allocation on the modelled heap: MemoryError, as gc_alloc gives, when it does not fit."""
    global _held
    if size > mem_free():
        raise MemoryError("memory allocation failed, allocating %d bytes" % size)
    _held += size


def release_all():
    """The REPL's collection after a command: what it allocated is garbage now."""
    global _held
    _held = 0


def collect():
    return None


def enable():
    return None


def disable():
    return None
