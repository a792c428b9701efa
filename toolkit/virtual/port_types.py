"""ctypes mirror of ``espml_port_t`` (device/core/espml_port.h) and its callback types.

``host_port.library()`` checks the struct's size and the offset of its last member against the
compiled C, so a change to the header that is not made here fails at load, not in a callback.
"""

from __future__ import annotations

import ctypes

c_u8p = ctypes.POINTER(ctypes.c_uint8)


class Memory(ctypes.Structure):
    _fields_ = [("heap_free", ctypes.c_uint32), ("heap_free_min", ctypes.c_uint32),
                ("psram_free", ctypes.c_uint32), ("stack_high_water", ctypes.c_uint32)]


class Current(ctypes.Structure):
    _fields_ = [("mean_ma", ctypes.c_float), ("peak_ma", ctypes.c_float), ("bus_v", ctypes.c_float)]


class OpTime(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("time_us", ctypes.c_uint32)]


VoidFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
WriteFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, c_u8p, ctypes.c_size_t)
LoadFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_u8p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
TensorFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32,
                            ctypes.POINTER(ctypes.c_uint32))
InvokeFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32),
                            ctypes.POINTER(ctypes.c_uint64))
ProfileFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(OpTime), ctypes.c_uint32,
                             ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint32))
U32Fn = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p)
IntFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
SendFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_u8p, ctypes.c_size_t, ctypes.c_uint32)
MemoryFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Memory))
CurrentEndFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Current))
MarkerFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int)


class Port(ctypes.Structure):
    _fields_ = [
        ("ctx", ctypes.c_void_p),
        ("board", ctypes.c_char_p),
        ("cpu_mhz", ctypes.c_uint16),
        ("simulated", ctypes.c_int),
        ("firmware_name", ctypes.c_char_p),
        ("firmware_version", ctypes.c_char_p),
        ("write", WriteFn),
        ("lock", VoidFn),
        ("unlock", VoidFn),
        ("slot_size", ctypes.c_uint32),
        ("flash_erase", ctypes.c_void_p),  # filled by the host port (C)
        ("flash_write", ctypes.c_void_p),
        ("flash_map", ctypes.c_void_p),
        ("flash_unmap", ctypes.c_void_p),
        ("arena_size", ctypes.c_uint32),
        ("model_load", LoadFn),
        ("model_unload", VoidFn),
        ("tensor", TensorFn),
        ("invoke", InvokeFn),
        ("marker", MarkerFn),
        ("profile", ProfileFn),
        ("arena_used", U32Fn),
        ("memory", MemoryFn),
        ("current_start", VoidFn),
        ("current_end", CurrentEndFn),
        ("has_current_sensor", ctypes.c_int),
        ("restart", VoidFn),
    ]


# Results the port's callbacks return (espml_port.h).
OK = 0
ERR_MODEL_INVALID = 5
ERR_ARENA_TOO_SMALL = 7
ERR_INVOKE_FAILED = 10
