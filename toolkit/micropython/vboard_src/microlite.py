# The virtual board's stand-in for tensorflow-micropython-examples' `microlite` module
# (micropython-modules/microlite/tensorflow-microlite.c and openmv-libtf.cpp), exactly as strict:
# interpreter(model, arena_len, input_cb, output_cb) takes 4 positional arguments and allocates
# arena_len + 16 bytes from the GC heap; a failed AllocateTensors() prints and leaves a null
# interpreter (the first call through it crashes the chip); invoke() calls input_cb, Invoke(),
# output_cb and returns 0, or prints and returns 1 when Invoke() fails; tensor getValue/setValue
# take float32, int8 and uint8 only (else TypeError "Unsupported Tensor Type"), setValue
# truncates ints to the element type; getType takes one (dummy) argument and returns the name.
# Inference by the host's tflite-micro (SimulatedChip), Invoke() time from the board cost model;
# inside invoke()'s input callback each setValue is one step of the caller's copy loop and costs
# the board's modelled step time (the host's time for the loop vanishes): every figure it leads
# to is simulated (SIMULATED below).
import binascii
import json
import struct

import host
import vclock
import vgc

SIMULATED = True
__version__ = "virtual (tflite-micro on the host)"
ALIGNMENT_SLACK = 16  # tensor_area_len += 16 in interpreter_make_new
_FORMAT = {0: "<f", 3: "<B", 9: "<b"}  # the only types getValue/setValue handle
_WRAP = {3: (0, 256), 9: (128, 256)}  # (int8_t)/(uint8_t) casts of mp_obj_int_get_checked's value
_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL", 7: "INT16",
          8: "COMPLEX64", 9: "INT8", 10: "FLOAT64"}  # TfLiteTypeGetName


def _call(name, *args):
    answer = json.loads(host.call(name, json.dumps({"args": args})))
    if not answer["ok"]:
        raise RuntimeError(answer["error"])
    return answer["value"]


def _b64(data):
    return binascii.b2a_base64(data).decode().strip()


def _int(value):
    """mp_obj_int_get_checked: an int, nothing else."""
    if not isinstance(value, int):
        raise TypeError("can't convert %s to int" % type(value).__name__)
    return value


class _CopyClock:
    """The input callback's copy loop on the board's clock: each setValue step costs ``step_us``."""

    def __init__(self):
        self.step_us = 0.0
        self.since = None  # real time the current step began, while an input callback runs
        self.owed = 0.0  # the fraction of a microsecond not yet spent

    def begin(self):
        self.since = vclock.real_us()

    def step(self):
        if self.since is None:
            return
        self.owed += self.step_us
        whole = int(self.owed)
        self.owed -= whole
        now = vclock.real_us()
        vclock.spend(whole, self.since, now)
        self.since = now  # no host time falls between two steps

    def end(self):
        self.since = None


_copy = _CopyClock()


def _crash(why):
    """A null interpreter dereferenced: the chip panics and resets (the host power-cycles it)."""
    _call("crash", why)
    while True:
        vclock.sleep_ms(100)


class tensor:
    def __init__(self, size, ttype):
        self.data = bytearray(size)
        self.ttype = ttype

    def _format(self):
        fmt = _FORMAT.get(self.ttype)
        if fmt is None:
            raise TypeError("Unsupported Tensor Type")
        return fmt

    def setValue(self, index, value):
        index = _int(index)
        fmt = self._format()
        if self.ttype == 0:
            if not isinstance(value, (int, float)):
                raise TypeError("can't convert %s to float" % type(value).__name__)
        else:
            offset, span = _WRAP[self.ttype]
            value = (_int(value) + offset) % span - offset
        struct.pack_into(fmt, self.data, index * struct.calcsize(fmt), value)
        _copy.step()
        return self

    def getValue(self, index):
        fmt = self._format()
        return struct.unpack_from(fmt, self.data, _int(index) * struct.calcsize(fmt))[0]

    def getType(self, dummy):
        return _NAMES.get(self.ttype, "Unknown type")


class interpreter:
    def __init__(self, *args):
        if len(args) != 4:
            raise TypeError("function takes 4 positional arguments but %d were given" % len(args))
        model, arena_len, input_callback, output_callback = args
        if input_callback is not None and not callable(input_callback):
            raise ValueError("Invalid Input Callback Handler")
        if output_callback is not None and not callable(output_callback):
            raise ValueError("Invalid Output Callback Handler")
        area = _int(arena_len) + ALIGNMENT_SLACK
        vgc.allocate(area)  # m_new(uint8_t, tensor_area_len): MemoryError when the heap cannot hold it
        print("interpreter_make_new: model size = %d, tensor area = %d" % (len(model), area))
        self._input_callback, self._output_callback = input_callback, output_callback
        self._inputs = self._outputs = None
        try:
            spec = _call("tflm_load", _b64(model), area)
        except RuntimeError:
            print("AllocateTensors() failed!")
            return
        _copy.step_us = spec["set_value_us"]
        self._inputs = [tensor(n, t) for n, t in spec["inputs"]]
        self._outputs = [tensor(n, t) for n, t in spec["outputs"]]

    def getInputTensor(self, index):
        if self._inputs is None:
            _crash("getInputTensor on an interpreter whose AllocateTensors() failed")
        return self._inputs[index]

    def getOutputTensor(self, index):
        if self._outputs is None:
            _crash("getOutputTensor on an interpreter whose AllocateTensors() failed")
        return self._outputs[index]

    def invoke(self):
        if self._input_callback is not None:
            _copy.begin()
            try:
                self._input_callback(self)
            finally:
                _copy.end()
        if self._inputs is None:
            _crash("Invoke() on an interpreter whose AllocateTensors() failed")
        started = vclock.real_us()
        answer = _call("tflm_invoke", [_b64(t.data) for t in self._inputs])
        if answer is None:
            vclock.spend(0, started)
            print("Invoke() failed!")
            return 1
        for t, data in zip(self._outputs, answer["outputs"]):
            t.data[:] = binascii.a2b_base64(data)
        vclock.spend(answer["latency_us"], started)
        if self._output_callback is not None:
            self._output_callback(self)
        return 0
