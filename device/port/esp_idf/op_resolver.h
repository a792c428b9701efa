// The ops the firmware registers: exactly device/ops.txt (through core/espml_ops.inc, ESPML_OP(NAME,
// CODE)), each mapped here to its MicroMutableOpResolver method. An op in ops.txt without a
// mapping fails the build (and tests/test_device_c.py).
#pragma once

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

#define ESPML_ADD_ADD(r) (r).AddAdd()
#define ESPML_ADD_AVERAGE_POOL_2D(r) (r).AddAveragePool2D()
#define ESPML_ADD_CONCATENATION(r) (r).AddConcatenation()
#define ESPML_ADD_CONV_2D(r) (r).AddConv2D()
#define ESPML_ADD_DEPTHWISE_CONV_2D(r) (r).AddDepthwiseConv2D()
#define ESPML_ADD_DEQUANTIZE(r) (r).AddDequantize()
#define ESPML_ADD_FULLY_CONNECTED(r) (r).AddFullyConnected()
#define ESPML_ADD_LOGISTIC(r) (r).AddLogistic()
#define ESPML_ADD_MAX_POOL_2D(r) (r).AddMaxPool2D()
#define ESPML_ADD_MEAN(r) (r).AddMean()
#define ESPML_ADD_MUL(r) (r).AddMul()
#define ESPML_ADD_PAD(r) (r).AddPad()
#define ESPML_ADD_QUANTIZE(r) (r).AddQuantize()
#define ESPML_ADD_RELU(r) (r).AddRelu()
#define ESPML_ADD_RELU6(r) (r).AddRelu6()
#define ESPML_ADD_RESHAPE(r) (r).AddReshape()
#define ESPML_ADD_SOFTMAX(r) (r).AddSoftmax()
#define ESPML_ADD_TANH(r) (r).AddTanh()
#define ESPML_ADD_TRANSPOSE(r) (r).AddTranspose()


constexpr unsigned kEspmlOpCount = 0
#define ESPML_OP(name, code) +1
#include "espml_ops.inc"
#undef ESPML_OP
    ;

using EspmlOpResolver = tflite::MicroMutableOpResolver<kEspmlOpCount>;

// Every step returns a status; the caller checks it.
inline TfLiteStatus espml_register_ops(EspmlOpResolver &resolver)
{
#define ESPML_OP(name, code)                       \
    if (ESPML_ADD_##name(resolver) != kTfLiteOk) { \
        return kTfLiteError;                       \
    }
#include "espml_ops.inc"
#undef ESPML_OP
    return kTfLiteOk;
}
