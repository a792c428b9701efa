"""Build small full-integer int8 TFLite models without TensorFlow, for tests and benchmarks.

    b = ModelBuilder(seed=0)
    x = b.input((1, 16, 16, 3))
    y = b.conv2d(x, 8, 3, stride=2)
    y = b.fully_connected(b.reshape(y, (1, -1)), 10)
    data = b.build([x], [b.softmax(y)])

Weights are random int8 (per-channel scales for convolutions, as the TFLite converter writes
them); the quantisation parameters are valid, so the model runs in TFLite-Micro. Beyond the
feed-forward layers: SVDF (with its variable state tensor), elementwise and shape ops, and
models with more than one subgraph (``start_subgraph`` / ``end_subgraph``, called by ``if_``).
"""

from __future__ import annotations

import flatbuffers
import numpy as np

FLOAT32, INT32, BOOL, INT16, INT8 = 0, 2, 6, 7, 9


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


class ModelBuilder:
    def __init__(self, seed: int = 0) -> None:
        s = _schema()
        self.s = s
        self.rng = np.random.default_rng(seed)
        self.tensors: list = []
        self.shapes: list[tuple[int, ...]] = []
        self.scales: list[float] = []
        self.buffers = [s.BufferT()]
        self.op_codes: list[int] = []
        self.operators: list = []
        self.custom_codes: dict[int, str] = {}
        self.subgraphs: list = []  # finished subgraphs after the main one (SubGraphT)
        self._outer: list[tuple] = []  # the state of the subgraphs being built around the current one

    # --- tensors ------------------------------------------------------------------------------
    def _tensor(self, shape, dtype: int, scale, zero_point, data: np.ndarray | None = None, qdim: int = 0,
                name: str = "", variable: bool = False) -> int:
        s = self.s
        tensor = s.TensorT()
        tensor.isVariable = variable
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.type = dtype
        tensor.name = (name or f"t{len(self.tensors)}").encode()
        q = s.QuantizationParametersT()
        q.scale = np.atleast_1d(np.array(scale, dtype=np.float32))
        q.zeroPoint = np.atleast_1d(np.array(zero_point, dtype=np.int64))
        q.quantizedDimension = qdim
        tensor.quantization = q
        if data is not None:
            buffer = s.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buffer)
            tensor.buffer = len(self.buffers) - 1
        else:
            tensor.buffer = 0
        self.tensors.append(tensor)
        self.shapes.append(tuple(int(d) for d in shape))
        self.scales.append(float(np.atleast_1d(scale)[0]))
        return len(self.tensors) - 1

    def activation(self, shape, scale: float = 0.05, zero_point: int = -10) -> int:
        return self._tensor(shape, INT8, scale, zero_point)

    def input(self, shape, scale: float = 0.05, zero_point: int = -10) -> int:
        return self.activation(shape, scale, zero_point)

    def _weights(self, shape, qdim: int) -> int:
        channels = shape[qdim]
        scales = self.rng.uniform(0.002, 0.01, channels).astype(np.float32)
        data = self.rng.integers(-127, 128, shape, dtype=np.int8)
        return self._tensor(shape, INT8, scales, np.zeros(channels, np.int64), data, qdim)

    def _bias(self, in_scale: float, weights: int) -> int:
        w_scales = self.tensors[weights].quantization.scale
        data = self.rng.integers(-2000, 2000, len(w_scales), dtype=np.int32)
        return self._tensor((len(w_scales),), INT32, in_scale * w_scales, np.zeros(len(w_scales), np.int64), data)

    def _constant_ints(self, values) -> int:
        values = np.array(values, dtype=np.int32)
        return self._tensor(values.shape, INT32, 1.0, 0, values)

    def _like(self, x: int, shape=None) -> int:
        """An int8 activation with x's quantisation (and shape unless given)."""
        return self._tensor(self.shapes[x] if shape is None else shape, INT8, self.scales[x],
                            int(self.tensors[x].quantization.zeroPoint[0]))

    def _op(self, kind: str, inputs: list[int], outputs: list[int], options_type: int = 0, options=None) -> int:
        code = getattr(self.s.BuiltinOperator, kind)
        if code not in self.op_codes or kind == "CUSTOM":
            self.op_codes.append(code)
        op = self.s.OperatorT()
        op.opcodeIndex = len(self.op_codes) - 1 if kind == "CUSTOM" else self.op_codes.index(code)
        op.inputs = np.array(inputs, dtype=np.int32)
        op.outputs = np.array(outputs, dtype=np.int32)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self.operators.append(op)
        return outputs[0]

    # --- layers -------------------------------------------------------------------------------
    @staticmethod
    def _out_size(size: int, kernel: int, stride: int, same: bool) -> int:
        return -(-size // stride) if same else (size - kernel) // stride + 1

    def conv2d(self, x: int, filters: int, kernel: int, stride: int = 1, same: bool = True, relu: bool = True) -> int:
        s = self.s
        _, h, w, c = self.shapes[x]
        weights = self._weights((filters, kernel, kernel, c), 0)
        bias = self._bias(self.scales[x], weights)
        out = self.activation((1, self._out_size(h, kernel, stride, same), self._out_size(w, kernel, stride, same), filters),
                              0.1, -128 if relu else 0)
        opt = s.Conv2DOptionsT()
        opt.padding = s.Padding.SAME if same else s.Padding.VALID
        opt.strideW = opt.strideH = stride
        opt.dilationWFactor = opt.dilationHFactor = 1
        opt.fusedActivationFunction = s.ActivationFunctionType.RELU if relu else 0
        return self._op("CONV_2D", [x, weights, bias], [out], s.BuiltinOptions.Conv2DOptions, opt)

    def depthwise_conv2d(self, x: int, kernel: int, stride: int = 1, same: bool = True, relu: bool = True,
                         multiplier: int = 1) -> int:
        s = self.s
        _, h, w, c = self.shapes[x]
        weights = self._weights((1, kernel, kernel, c * multiplier), 3)
        bias = self._bias(self.scales[x], weights)
        out = self.activation((1, self._out_size(h, kernel, stride, same), self._out_size(w, kernel, stride, same),
                               c * multiplier), 0.1, -128 if relu else 0)
        opt = s.DepthwiseConv2DOptionsT()
        opt.padding = s.Padding.SAME if same else s.Padding.VALID
        opt.strideW = opt.strideH = stride
        opt.depthMultiplier = multiplier
        opt.dilationWFactor = opt.dilationHFactor = 1
        opt.fusedActivationFunction = s.ActivationFunctionType.RELU if relu else 0
        return self._op("DEPTHWISE_CONV_2D", [x, weights, bias], [out], s.BuiltinOptions.DepthwiseConv2DOptions, opt)

    def fully_connected(self, x: int, units: int, relu: bool = False, per_channel: bool = False) -> int:
        """Per-tensor weights by default; ``per_channel`` as TF 2.19's converter writes them."""
        s = self.s
        depth = self.shapes[x][-1]
        weights = self._weights((units, depth), 0)
        w = self.tensors[weights]
        if not per_channel:
            w.quantization.scale = w.quantization.scale[:1]
            w.quantization.zeroPoint = w.quantization.zeroPoint[:1]
        w_scales = w.quantization.scale if per_channel else np.full(units, w.quantization.scale[0], np.float32)
        bias = self._tensor((units,), INT32, (self.scales[x] * w_scales) if per_channel else self.scales[x] * w_scales[0],
                            np.zeros(units, np.int64) if per_channel else 0,
                            self.rng.integers(-2000, 2000, units, dtype=np.int32))
        out = self.activation((1, units), 0.2, -128 if relu else 0)
        opt = s.FullyConnectedOptionsT()
        opt.fusedActivationFunction = s.ActivationFunctionType.RELU if relu else 0
        return self._op("FULLY_CONNECTED", [x, weights, bias], [out], s.BuiltinOptions.FullyConnectedOptions, opt)

    def _pool(self, kind: str, x: int, size: int, stride: int) -> int:
        s = self.s
        _, h, w, c = self.shapes[x]
        out = self._tensor((1, self._out_size(h, size, stride, False), self._out_size(w, size, stride, False), c), INT8,
                           self.scales[x], int(self.tensors[x].quantization.zeroPoint[0]))
        opt = s.Pool2DOptionsT()
        opt.padding = s.Padding.VALID
        opt.strideW = opt.strideH = stride
        opt.filterWidth = opt.filterHeight = size
        return self._op(kind, [x], [out], s.BuiltinOptions.Pool2DOptions, opt)

    def avg_pool(self, x: int, size: int, stride: int | None = None) -> int:
        return self._pool("AVERAGE_POOL_2D", x, size, stride or size)

    def max_pool(self, x: int, size: int, stride: int | None = None) -> int:
        return self._pool("MAX_POOL_2D", x, size, stride or size)

    def add(self, a: int, b: int) -> int:
        s = self.s
        out = self.activation(self.shapes[a], 0.1, 0)
        opt = s.AddOptionsT()
        return self._op("ADD", [a, b], [out], s.BuiltinOptions.AddOptions, opt)

    def reshape(self, x: int, shape: tuple[int, ...]) -> int:
        s = self.s
        total = int(np.prod(self.shapes[x]))
        resolved = [total // -int(np.prod(shape)) if d == -1 else d for d in shape]
        new_shape = self._tensor((len(resolved),), INT32, 1.0, 0, np.array(resolved, dtype=np.int32))
        out = self._tensor(tuple(resolved), INT8, self.scales[x], int(self.tensors[x].quantization.zeroPoint[0]))
        opt = s.ReshapeOptionsT()
        opt.newShape = np.array(resolved, dtype=np.int32)
        return self._op("RESHAPE", [x, new_shape], [out], s.BuiltinOptions.ReshapeOptions, opt)

    def softmax(self, x: int) -> int:
        s = self.s
        out = self._tensor(self.shapes[x], INT8, 1.0 / 256, -128)
        opt = s.SoftmaxOptionsT()
        opt.beta = 1.0
        return self._op("SOFTMAX", [x], [out], s.BuiltinOptions.SoftmaxOptions, opt)

    def svdf(self, x: int, units: int, rank: int = 1, memory: int = 8) -> int:
        """TFLM's int8 SVDF: int8 feature weights, int16 time weights and state (a variable tensor)."""
        s = self.s
        batch, features = self.shapes[x]
        filters = units * rank
        weights_feature = self._tensor((filters, features), INT8, 0.01, 0,
                                       self.rng.integers(-127, 128, (filters, features), dtype=np.int8))
        time_scale, state_scale = 1 / 4096, 1 / 2048
        weights_time = self._tensor((filters, memory), INT16, time_scale, 0,
                                    self.rng.integers(-4096, 4096, (filters, memory), dtype=np.int16))
        # TFLM requires the bias scale to be the state scale times the time weights' scale
        bias = self._tensor((units,), INT32, state_scale * time_scale, 0,
                            self.rng.integers(-500, 500, units, dtype=np.int32))
        state = self._tensor((batch, memory * filters), INT16, state_scale, 0, variable=True)
        out = self.activation((batch, units), 0.05, 0)
        opt = s.SVDFOptionsT()
        opt.rank = rank
        inputs = [x, weights_feature, weights_time, bias, state]
        return self._op("SVDF", inputs, [out], s.BuiltinOptions.SVDFOptions, opt)

    def lstm(self, x: int, units: int) -> int:
        """TFLM's int8 UNIDIRECTIONAL_SEQUENCE_LSTM over x [batch, steps, features]: int8 gate weights,
        int32 biases, an int8 hidden state and an int16 cell state (both variable tensors), no
        peephole, projection or layer norm (TFLM supports none); the whole sequence comes out."""
        s = self.s
        batch, steps, features = self.shapes[x]
        hidden = self._tensor((batch, units), INT8, 1 / 128, 0, variable=True)
        weights = [self._tensor(shape, INT8, 0.004, 0, self.rng.integers(-127, 128, shape, dtype=np.int8))
                   for shape in [(units, features)] * 4 + [(units, units)] * 4]
        biases = [self._tensor((units,), INT32, self.scales[x] * 0.004, 0,
                               self.rng.integers(-2000, 2000, units, dtype=np.int32)) for _ in range(4)]
        cell = self._tensor((batch, units), INT16, 2.0 ** -11, 0, variable=True)  # TFLM wants a power of two
        out = self._tensor((batch, steps, units), INT8, 1 / 128, 0)
        opt = s.UnidirectionalSequenceLSTMOptionsT()
        opt.fusedActivationFunction = s.ActivationFunctionType.TANH
        inputs = [x, *weights, -1, -1, -1, *biases, -1, -1, hidden, cell, -1, -1, -1, -1]
        return self._op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [out],
                        s.BuiltinOptions.UnidirectionalSequenceLSTMOptions, opt)

    def binary(self, kind: str, a: int, b: int) -> int:
        """An elementwise op of two same-shaped int8 tensors (SUB, MAXIMUM, MINIMUM, ...)."""
        s = self.s
        options = {"SUB": (s.BuiltinOptions.SubOptions, s.SubOptionsT()),
                   "MUL": (s.BuiltinOptions.MulOptions, s.MulOptionsT())}
        options_type, opt = options.get(kind, (0, None))
        out = self.activation(self.shapes[a], 0.1, 0) if kind in options else self._like(a)
        return self._op(kind, [a, b], [out], options_type, opt)

    def leaky_relu(self, x: int, alpha: float = 0.2) -> int:
        s = self.s
        opt = s.LeakyReluOptionsT()
        opt.alpha = alpha
        return self._op("LEAKY_RELU", [x], [self._like(x)], s.BuiltinOptions.LeakyReluOptions, opt)

    def strided_slice(self, x: int, begin, end, strides=None) -> int:
        s = self.s
        strides = list(strides or [1] * len(begin))
        shape = tuple(-(-(e - b) // st) for b, e, st in zip(begin, end, strides))
        opt = s.StridedSliceOptionsT()
        inputs = [x, self._constant_ints(begin), self._constant_ints(end), self._constant_ints(strides)]
        return self._op("STRIDED_SLICE", inputs, [self._like(x, shape)], s.BuiltinOptions.StridedSliceOptions, opt)

    def split(self, x: int, parts: int, axis: int = -1) -> list[int]:
        s = self.s
        axis %= len(self.shapes[x])
        shape = tuple(d // parts if i == axis else d for i, d in enumerate(self.shapes[x]))
        outputs = [self._like(x, shape) for _ in range(parts)]
        opt = s.SplitOptionsT()
        opt.numSplits = parts
        self._op("SPLIT", [self._constant_ints([axis]), x], outputs, s.BuiltinOptions.SplitOptions, opt)
        return outputs

    def resize(self, kind: str, x: int, height: int, width: int) -> int:
        """RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR of an NHWC tensor."""
        s = self.s
        name = "ResizeBilinear" if kind == "RESIZE_BILINEAR" else "ResizeNearestNeighbor"
        opt = getattr(s, f"{name}OptionsT")()
        batch, _, _, channels = self.shapes[x]
        out = self._like(x, (batch, height, width, channels))
        options_type = getattr(s.BuiltinOptions, f"{name}Options")
        return self._op(kind, [x, self._constant_ints([height, width])], [out], options_type, opt)

    def squeeze(self, x: int, axes: list[int]) -> int:
        s = self.s
        opt = s.SqueezeOptionsT()
        opt.squeezeDims = np.array(axes, dtype=np.int32)
        shape = tuple(d for i, d in enumerate(self.shapes[x]) if i not in axes)
        return self._op("SQUEEZE", [x], [self._like(x, shape)], s.BuiltinOptions.SqueezeOptions, opt)

    def reduce(self, kind: str, x: int, axes: list[int], keep_dims: bool = False) -> int:
        """MEAN, SUM or REDUCE_MAX over ``axes``."""
        s = self.s
        opt = s.ReducerOptionsT()
        opt.keepDims = keep_dims
        shape = tuple(1 if i in axes else d for i, d in enumerate(self.shapes[x]) if keep_dims or i not in axes)
        out = self._like(x, shape) if kind == "REDUCE_MAX" else self.activation(shape, self.scales[x], 0)
        return self._op(kind, [x, self._constant_ints(axes)], [out], s.BuiltinOptions.ReducerOptions, opt)

    def unary(self, kind: str, x: int, float_output: bool = False) -> int:
        """Any builtin op with one input and one output of the same shape (no options)."""
        out = (self._tensor(self.shapes[x], FLOAT32, 1.0, 0) if float_output
               else self.activation(self.shapes[x], self.scales[x], int(self.tensors[x].quantization.zeroPoint[0])))
        return self._op(kind, [x], [out])

    def custom(self, code: str, x: int) -> int:
        """A custom op (``Flex...`` for a TensorFlow op), as converters write them."""
        out = self.activation(self.shapes[x])
        self._op("CUSTOM", [x], [out])
        self.custom_codes[len(self.op_codes) - 1] = code
        return out

    # --- subgraphs ----------------------------------------------------------------------------
    def start_subgraph(self) -> None:
        """Build the next tensors and ops in a new subgraph, until ``end_subgraph``."""
        self._outer.append((self.tensors, self.shapes, self.scales, self.operators))
        self.tensors, self.shapes, self.scales, self.operators = [], [], [], []

    def end_subgraph(self, inputs: list[int], outputs: list[int]) -> int:
        """Finish the subgraph ``start_subgraph`` began; return its index in the model."""
        self.subgraphs.append(self._graph(inputs, outputs, f"subgraph{len(self.subgraphs) + 1}"))
        self.tensors, self.shapes, self.scales, self.operators = self._outer.pop()
        return len(self.subgraphs)

    def if_(self, condition: int, x: int, then_graph: int, else_graph: int) -> int:
        """IF: runs ``then_graph`` or ``else_graph`` (each x -> one output shaped like x) on x."""
        s = self.s
        opt = s.IfOptionsT()
        opt.thenSubgraphIndex, opt.elseSubgraphIndex = then_graph, else_graph
        return self._op("IF", [condition, x], [self._like(x)], s.BuiltinOptions.IfOptions, opt)

    def condition(self) -> int:
        """A bool scalar graph input, for IF."""
        return self._tensor((1,), BOOL, 1.0, 0)

    # --- output -------------------------------------------------------------------------------
    def _graph(self, inputs: list[int], outputs: list[int], name: str):
        graph = self.s.SubGraphT()
        graph.tensors = self.tensors
        graph.inputs = np.array(inputs, dtype=np.int32)
        graph.outputs = np.array(outputs, dtype=np.int32)
        graph.operators = self.operators
        graph.name = name.encode()
        return graph

    def build(self, inputs: list[int], outputs: list[int], description: str = "espml synthetic model") -> bytes:
        s = self.s
        model = s.ModelT()
        model.version = 3
        model.description = description.encode()
        model.buffers = self.buffers
        model.subgraphs = [self._graph(inputs, outputs, "main")] + self.subgraphs
        codes = []
        for index, code in enumerate(self.op_codes):
            op_code = s.OperatorCodeT()
            op_code.builtinCode = code
            op_code.deprecatedBuiltinCode = min(code, 127)
            op_code.version = 1
            if index in self.custom_codes:
                op_code.customCode = self.custom_codes[index].encode()
            codes.append(op_code)
        model.operatorCodes = codes
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def image_input_model(height: int = 96, width: int = 96, channels: int = 3) -> bytes:
    """The smallest model with an image input: one average pool over the whole image."""
    b = ModelBuilder()
    x = b.input((1, height, width, channels))
    return b.build([x], [b.avg_pool(x, min(height, width))])
