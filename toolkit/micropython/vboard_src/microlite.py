# The virtual board's stand-in for tensorflow-micropython-examples' `microlite` module: the same
# interpreter/tensor calls, inference by the host's tflite-micro (SimulatedChip), Invoke() time
# from the board cost model. Every figure it leads to is simulated (SIMULATED below).
import binascii
import json
import struct

import host
import vclock

SIMULATED = True
__version__ = "virtual (tflite-micro on the host)"
_FORMAT = {0: "f", 2: "i", 3: "B", 7: "h", 9: "b"}


def _call(name, *args):
    answer = json.loads(host.call(name, json.dumps({"args": args})))
    if not answer["ok"]:
        raise RuntimeError(answer["error"])
    return answer["value"]


def _b64(data):
    return binascii.b2a_base64(data).decode().strip()


class tensor:
    def __init__(self, size, ttype):
        self.data = bytearray(size)
        self.ttype = ttype
        self.fmt = _FORMAT.get(ttype, "b")
        self.step = struct.calcsize(self.fmt)

    def setValue(self, index, value):
        struct.pack_into(self.fmt, self.data, index * self.step, value)

    def getValue(self, index):
        return struct.unpack_from(self.fmt, self.data, index * self.step)[0]

    def getType(self):
        return self.ttype


class interpreter:
    def __init__(self, model, arena_size, input_callback, output_callback):
        spec = _call("tflm_load", _b64(model), arena_size)
        self._inputs = [tensor(n, t) for n, t in spec["inputs"]]
        self._outputs = [tensor(n, t) for n, t in spec["outputs"]]
        self._input_callback, self._output_callback = input_callback, output_callback

    def getInputTensor(self, index):
        return self._inputs[index]

    def getOutputTensor(self, index):
        return self._outputs[index]

    def invoke(self):
        self._input_callback(self)
        started = vclock.real_us()
        answer = _call("tflm_invoke", [_b64(t.data) for t in self._inputs])
        for t, data in zip(self._outputs, answer["outputs"]):
            t.data[:] = binascii.a2b_base64(data)
        vclock.spend(answer["latency_us"], started)
        self._output_callback(self)
        return 0
