// The ops the firmware registers: exactly device/ops.txt (through core/espml_ops.inc, ESPML_OP(NAME,
// CODE), and core/espml_custom_ops.inc, ESPML_CUSTOM_OP(NAME)), each mapped here to its
// MicroMutableOpResolver method. An op in ops.txt without a mapping fails the build (and
// tests/test_device_c.py). The custom ones are TFLite-Micro's signal library: each Add method
// is AddCustom("Signal...", tflm_signal::Register_...()) in esp-tflite-micro 1.3.8's
// micro_mutable_op_resolver.h, whose CMakeLists.txt compiles signal/micro/kernels and signal/src.
#pragma once

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

#define ESPML_ADD_ADD(r) (r).AddAdd()
#define ESPML_ADD_ARG_MAX(r) (r).AddArgMax()
#define ESPML_ADD_AVERAGE_POOL_2D(r) (r).AddAveragePool2D()
#define ESPML_ADD_BATCH_TO_SPACE_ND(r) (r).AddBatchToSpaceNd()
#define ESPML_ADD_CONCATENATION(r) (r).AddConcatenation()
#define ESPML_ADD_CONV_2D(r) (r).AddConv2D()
#define ESPML_ADD_DEPTHWISE_CONV_2D(r) (r).AddDepthwiseConv2D()
#define ESPML_ADD_DEQUANTIZE(r) (r).AddDequantize()
#define ESPML_ADD_EXPAND_DIMS(r) (r).AddExpandDims()
#define ESPML_ADD_FULLY_CONNECTED(r) (r).AddFullyConnected()
#define ESPML_ADD_GATHER(r) (r).AddGather()
#define ESPML_ADD_HARD_SWISH(r) (r).AddHardSwish()
#define ESPML_ADD_LEAKY_RELU(r) (r).AddLeakyRelu()
#define ESPML_ADD_LOGISTIC(r) (r).AddLogistic()
#define ESPML_ADD_MAXIMUM(r) (r).AddMaximum()
#define ESPML_ADD_MAX_POOL_2D(r) (r).AddMaxPool2D()
#define ESPML_ADD_MEAN(r) (r).AddMean()
#define ESPML_ADD_MINIMUM(r) (r).AddMinimum()
#define ESPML_ADD_MUL(r) (r).AddMul()
#define ESPML_ADD_PACK(r) (r).AddPack()
#define ESPML_ADD_PAD(r) (r).AddPad()
#define ESPML_ADD_PRELU(r) (r).AddPrelu()
#define ESPML_ADD_QUANTIZE(r) (r).AddQuantize()
#define ESPML_ADD_REDUCE_MAX(r) (r).AddReduceMax()
#define ESPML_ADD_RELU(r) (r).AddRelu()
#define ESPML_ADD_RELU6(r) (r).AddRelu6()
#define ESPML_ADD_RESHAPE(r) (r).AddReshape()
#define ESPML_ADD_RESIZE_BILINEAR(r) (r).AddResizeBilinear()
#define ESPML_ADD_RESIZE_NEAREST_NEIGHBOR(r) (r).AddResizeNearestNeighbor()
#define ESPML_ADD_SLICE(r) (r).AddSlice()
#define ESPML_ADD_SOFTMAX(r) (r).AddSoftmax()
#define ESPML_ADD_SPACE_TO_BATCH_ND(r) (r).AddSpaceToBatchNd()
#define ESPML_ADD_SPLIT(r) (r).AddSplit()
#define ESPML_ADD_SPLIT_V(r) (r).AddSplitV()
#define ESPML_ADD_SQUEEZE(r) (r).AddSqueeze()
#define ESPML_ADD_STRIDED_SLICE(r) (r).AddStridedSlice()
#define ESPML_ADD_SUB(r) (r).AddSub()
#define ESPML_ADD_SVDF(r) (r).AddSvdf()
#define ESPML_ADD_TANH(r) (r).AddTanh()
#define ESPML_ADD_TRANSPOSE(r) (r).AddTranspose()
#define ESPML_ADD_TRANSPOSE_CONV(r) (r).AddTransposeConv()
#define ESPML_ADD_UNIDIRECTIONAL_SEQUENCE_LSTM(r) (r).AddUnidirectionalSequenceLSTM()
#define ESPML_ADD_UNPACK(r) (r).AddUnpack()

#define ESPML_ADD_SignalDelay(r) (r).AddDelay()
#define ESPML_ADD_SignalEnergy(r) (r).AddEnergy()
#define ESPML_ADD_SignalFftAutoScale(r) (r).AddFftAutoScale()
#define ESPML_ADD_SignalFilterBank(r) (r).AddFilterBank()
#define ESPML_ADD_SignalFilterBankLog(r) (r).AddFilterBankLog()
#define ESPML_ADD_SignalFilterBankSpectralSubtraction(r) (r).AddFilterBankSpectralSubtraction()
#define ESPML_ADD_SignalFilterBankSquareRoot(r) (r).AddFilterBankSquareRoot()
#define ESPML_ADD_SignalFramer(r) (r).AddFramer()
#define ESPML_ADD_SignalIrfft(r) (r).AddIrfft()
#define ESPML_ADD_SignalOverlapAdd(r) (r).AddOverlapAdd()
#define ESPML_ADD_SignalPCAN(r) (r).AddPCAN()
#define ESPML_ADD_SignalRfft(r) (r).AddRfft()
#define ESPML_ADD_SignalStacker(r) (r).AddStacker()
#define ESPML_ADD_SignalWindow(r) (r).AddWindow()

constexpr unsigned kEspmlOpCount = 0
#define ESPML_OP(name, code) +1
#include "espml_ops.inc"
#undef ESPML_OP
#define ESPML_CUSTOM_OP(name) +1
#include "espml_custom_ops.inc"
#undef ESPML_CUSTOM_OP
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
#define ESPML_CUSTOM_OP(name)                      \
    if (ESPML_ADD_##name(resolver) != kTfLiteOk) { \
        return kTfLiteError;                       \
    }
#include "espml_custom_ops.inc"
#undef ESPML_CUSTOM_OP
    return kTfLiteOk;
}
