# The virtual board's `gc` for programs: figures from the real collector, collect() a no-op (the
# board collects between REPL commands; see vboard.run).
import gc as _gc

mem_free, mem_alloc, isenabled = _gc.mem_free, _gc.mem_alloc, _gc.isenabled


def collect():
    return None


def enable():
    return None


def disable():
    return None
