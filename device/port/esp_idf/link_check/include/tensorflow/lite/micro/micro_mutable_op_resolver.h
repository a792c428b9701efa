/* Declaration-only mirror for the link check: only what the port uses.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4): tensorflow/lite/micro/micro_mutable_op_resolver.h.
 * MicroMutableOpResolver<N> is a class template defined in the header, so the port instantiates
 * its members: the bodies below keep exactly the calls the real ones make (the registration
 * functions, the parsers, MicroPrintf, strcmp, abort), which is what the link must resolve. */
#ifndef TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_
#define TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_

#include <cstdlib>
#include <cstring>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

/* tensorflow/lite/micro/micro_log.h (TF_LITE_STRIP_ERROR_STRINGS not defined): global namespace,
 * C++ linkage. */
void MicroPrintf(const char* format, ...);

/* tensorflow/lite/kernels/op_macros.h: TF_LITE_MCU_DEBUG_LOG is not defined by the component, so
 * TFLITE_ABORT is abort(); NDEBUG is not defined with ESP-IDF's default assertion level
 * (CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_ENABLE), so TFLITE_ASSERT_FALSE is TFLITE_ABORT.
 * tensorflow/lite/kernels/internal/compatibility.h: TFLITE_DCHECK. */
#define TFLITE_ABORT abort()
#if defined(NDEBUG)
#define TFLITE_ASSERT_FALSE (static_cast<void>(0))
#else
#define TFLITE_ASSERT_FALSE TFLITE_ABORT
#endif
#ifndef TFLITE_DCHECK
#define TFLITE_DCHECK(condition) (condition) ? (void)0 : TFLITE_ASSERT_FALSE
#endif

/* tensorflow/lite/micro/compatibility.h */
#ifdef TF_LITE_STATIC_MEMORY
#define TF_LITE_REMOVE_VIRTUAL_DELETE \
  void operator delete(void* p) {}
#else
#define TF_LITE_REMOVE_VIRTUAL_DELETE
#endif

namespace tflite {

/* tensorflow/lite/micro/kernels/micro_ops.h (also add.h, conv.h, depthwise_conv.h,
 * fully_connected.h, mul.h, pad.h, reduce.h, softmax.h, transpose.h, svdf.h, transpose_conv.h,
 * unidirectional_sequence_lstm.h): namespace tflite, defined in
 * the component (the ESP-NN kernels for ADD, CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MUL,
 * the pools and SOFTMAX: tensorflow/lite/micro/kernels/esp_nn/). */
TFLMRegistration Register_ADD();
TFLMRegistration Register_ARG_MAX();
TFLMRegistration Register_AVERAGE_POOL_2D();
TFLMRegistration Register_BATCH_TO_SPACE_ND();
TFLMRegistration Register_CONCATENATION();
TFLMRegistration Register_CONV_2D();
TFLMRegistration Register_DEPTHWISE_CONV_2D();
TFLMRegistration Register_DEQUANTIZE();
TFLMRegistration Register_EXPAND_DIMS();
TFLMRegistration Register_FULLY_CONNECTED();
TFLMRegistration Register_GATHER();
TFLMRegistration Register_HARD_SWISH();
TFLMRegistration Register_LEAKY_RELU();
TFLMRegistration Register_LOGISTIC();
TFLMRegistration Register_MAXIMUM();
TFLMRegistration Register_MAX_POOL_2D();
TFLMRegistration Register_MEAN();
TFLMRegistration Register_MINIMUM();
TFLMRegistration Register_MUL();
TFLMRegistration Register_PACK();
TFLMRegistration Register_PAD();
TFLMRegistration Register_PRELU();
TFLMRegistration Register_QUANTIZE();
TFLMRegistration Register_REDUCE_MAX();
TFLMRegistration Register_RELU();
TFLMRegistration Register_RELU6();
TFLMRegistration Register_RESHAPE();
TFLMRegistration Register_RESIZE_BILINEAR();
TFLMRegistration Register_RESIZE_NEAREST_NEIGHBOR();
TFLMRegistration Register_SLICE();
TFLMRegistration Register_SOFTMAX();
TFLMRegistration Register_SPACE_TO_BATCH_ND();
TFLMRegistration Register_SPLIT();
TFLMRegistration Register_SPLIT_V();
TFLMRegistration Register_SQUEEZE();
TFLMRegistration Register_STRIDED_SLICE();
TFLMRegistration Register_SUB();
TFLMRegistration Register_SVDF();
TFLMRegistration Register_TANH();
TFLMRegistration Register_TRANSPOSE();
TFLMRegistration Register_TRANSPOSE_CONV();
TFLMRegistration Register_UNIDIRECTIONAL_SEQUENCE_LSTM();
TFLMRegistration Register_UNPACK();

/* tensorflow/lite/micro/kernels/micro_ops.h (namespace tflite::tflm_signal, "TODO(b/160234179):
 * Change custom OPs to also return by value"), signal/micro/kernels/rfft.h and irfft.h: the signal
 * library's registrations, defined in the component (CMakeLists.txt globs the .cc files of signal/micro/kernels
 * and signal/src into lib_srcs, v1.3.4 to v1.3.8). */
namespace tflm_signal {
TFLMRegistration* Register_DELAY();
TFLMRegistration* Register_FFT_AUTO_SCALE();
TFLMRegistration* Register_FILTER_BANK();
TFLMRegistration* Register_FILTER_BANK_LOG();
TFLMRegistration* Register_FILTER_BANK_SPECTRAL_SUBTRACTION();
TFLMRegistration* Register_FILTER_BANK_SQUARE_ROOT();
TFLMRegistration* Register_ENERGY();
TFLMRegistration* Register_FRAMER();
TFLMRegistration* Register_OVERLAP_ADD();
TFLMRegistration* Register_PCAN();
TFLMRegistration* Register_STACKER();
TFLMRegistration* Register_WINDOW();
TFLMRegistration* Register_RFFT();
TFLMRegistration* Register_IRFFT();
}  // namespace tflm_signal

/* tensorflow/lite/core/api/flatbuffer_conversions.h: namespace tflite. */
TfLiteStatus ParseAdd(const Operator* op, ErrorReporter* error_reporter,
                      BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseArgMax(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseBatchToSpaceNd(const Operator* op,
                                 ErrorReporter* error_reporter,
                                 BuiltinDataAllocator* allocator,
                                 void** builtin_data);
TfLiteStatus ParseConcatenation(const Operator* op,
                                ErrorReporter* error_reporter,
                                BuiltinDataAllocator* allocator,
                                void** builtin_data);
TfLiteStatus ParseConv2D(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseDepthwiseConv2D(const Operator* op,
                                  ErrorReporter* error_reporter,
                                  BuiltinDataAllocator* allocator,
                                  void** builtin_data);
TfLiteStatus ParseDequantize(const Operator* op, ErrorReporter* error_reporter,
                             BuiltinDataAllocator* allocator,
                             void** builtin_data);
TfLiteStatus ParseExpandDims(const Operator* op, ErrorReporter* error_reporter,
                             BuiltinDataAllocator* allocator,
                             void** builtin_data);
TfLiteStatus ParseFullyConnected(const Operator* op,
                                 ErrorReporter* error_reporter,
                                 BuiltinDataAllocator* allocator,
                                 void** builtin_data);
TfLiteStatus ParseGather(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseHardSwish(const Operator* op, ErrorReporter* error_reporter,
                            BuiltinDataAllocator* allocator,
                            void** builtin_data);
TfLiteStatus ParseLeakyRelu(const Operator* op, ErrorReporter* error_reporter,
                            BuiltinDataAllocator* allocator,
                            void** builtin_data);
TfLiteStatus ParseLogistic(const Operator* op, ErrorReporter* error_reporter,
                           BuiltinDataAllocator* allocator,
                           void** builtin_data);
TfLiteStatus ParseMaximum(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseMinimum(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseMul(const Operator* op, ErrorReporter* error_reporter,
                      BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParsePack(const Operator* op, ErrorReporter* error_reporter,
                       BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParsePad(const Operator* op, ErrorReporter* error_reporter,
                      BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParsePool(const Operator* op, ErrorReporter* error_reporter,
                       BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParsePrelu(const Operator* op, ErrorReporter* error_reporter,
                        BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseQuantize(const Operator* op, ErrorReporter* error_reporter,
                           BuiltinDataAllocator* allocator,
                           void** builtin_data);
TfLiteStatus ParseReducer(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseRelu(const Operator* op, ErrorReporter* error_reporter,
                       BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseRelu6(const Operator* op, ErrorReporter* error_reporter,
                        BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseReshape(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseResizeBilinear(const Operator* op,
                                 ErrorReporter* error_reporter,
                                 BuiltinDataAllocator* allocator,
                                 void** builtin_data);
TfLiteStatus ParseResizeNearestNeighbor(const Operator* op,
                                        ErrorReporter* error_reporter,
                                        BuiltinDataAllocator* allocator,
                                        void** builtin_data);
TfLiteStatus ParseSlice(const Operator* op, ErrorReporter* error_reporter,
                        BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSoftmax(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSpaceToBatchNd(const Operator* op,
                                 ErrorReporter* error_reporter,
                                 BuiltinDataAllocator* allocator,
                                 void** builtin_data);
TfLiteStatus ParseSplit(const Operator* op, ErrorReporter* error_reporter,
                        BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSplitV(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSqueeze(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseStridedSlice(const Operator* op,
                               ErrorReporter* error_reporter,
                               BuiltinDataAllocator* allocator,
                               void** builtin_data);
TfLiteStatus ParseSub(const Operator* op, ErrorReporter* error_reporter,
                      BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSvdf(const Operator* op, ErrorReporter* error_reporter,
                       BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseTanh(const Operator* op, ErrorReporter* error_reporter,
                       BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseTranspose(const Operator* op, ErrorReporter* error_reporter,
                            BuiltinDataAllocator* allocator,
                            void** builtin_data);
TfLiteStatus ParseTransposeConv(const Operator* op,
                                ErrorReporter* error_reporter,
                                BuiltinDataAllocator* allocator,
                                void** builtin_data);
TfLiteStatus ParseUnidirectionalSequenceLSTM(const Operator* op,
                                             ErrorReporter* error_reporter,
                                             BuiltinDataAllocator* allocator,
                                             void** builtin_data);
TfLiteStatus ParseUnpack(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  TF_LITE_REMOVE_VIRTUAL_DELETE

  explicit MicroMutableOpResolver() {}

  const TFLMRegistration* FindOp(tflite::BuiltinOperator op) const override {
    if (op == BuiltinOperator_CUSTOM) return nullptr;
    for (unsigned int i = 0; i < registrations_len_; ++i) {
      if (registrations_[i].builtin_code == op) return &registrations_[i];
    }
    return nullptr;
  }

  const TFLMRegistration* FindOp(const char* op) const override {
    for (unsigned int i = 0; i < registrations_len_; ++i) {
      if ((registrations_[i].builtin_code == BuiltinOperator_CUSTOM) &&
          (strcmp(registrations_[i].custom_name, op) == 0)) {
        return &registrations_[i];
      }
    }
    return nullptr;
  }

  TfLiteBridgeBuiltinParseFunction GetOpDataParser(
      BuiltinOperator op) const override {
    TFLITE_DCHECK(num_buitin_ops_ <= tOpCount);
    for (unsigned int i = 0; i < num_buitin_ops_; ++i) {
      if (builtin_codes_[i] == op) return builtin_parsers_[i];
    }
    return nullptr;
  }

  TfLiteStatus AddCustom(const char* name,
                         const TFLMRegistration* registration) {
    if (registrations_len_ >= tOpCount) {
      MicroPrintf(
          "Couldn't register custom op '%s', resolver size is too"
          "small (%d)",
          name, tOpCount);
      return kTfLiteError;
    }
    if (FindOp(name) != nullptr) {
      MicroPrintf("Calling AddCustom for the same op more than once ");
      MicroPrintf("is not supported (Op: %s).", name);
      return kTfLiteError;
    }
    TFLMRegistration* new_registration = &registrations_[registrations_len_];
    registrations_len_ += 1;
    *new_registration = *registration;
    new_registration->builtin_code = BuiltinOperator_CUSTOM;
    new_registration->custom_name = name;
    return kTfLiteOk;
  }

  /* The signal library's Add methods (custom names as in v1.3.8). */
  TfLiteStatus AddDelay() {
    return AddCustom("SignalDelay", tflite::tflm_signal::Register_DELAY());
  }
  TfLiteStatus AddEnergy() {
    return AddCustom("SignalEnergy", tflite::tflm_signal::Register_ENERGY());
  }
  TfLiteStatus AddFftAutoScale() {
    return AddCustom("SignalFftAutoScale",
                     tflite::tflm_signal::Register_FFT_AUTO_SCALE());
  }
  TfLiteStatus AddFilterBank() {
    return AddCustom("SignalFilterBank",
                     tflite::tflm_signal::Register_FILTER_BANK());
  }
  TfLiteStatus AddFilterBankLog() {
    return AddCustom("SignalFilterBankLog",
                     tflite::tflm_signal::Register_FILTER_BANK_LOG());
  }
  TfLiteStatus AddFilterBankSquareRoot() {
    return AddCustom("SignalFilterBankSquareRoot",
                     tflite::tflm_signal::Register_FILTER_BANK_SQUARE_ROOT());
  }
  TfLiteStatus AddFilterBankSpectralSubtraction() {
    return AddCustom(
        "SignalFilterBankSpectralSubtraction",
        tflite::tflm_signal::Register_FILTER_BANK_SPECTRAL_SUBTRACTION());
  }
  TfLiteStatus AddFramer() {
    return AddCustom("SignalFramer", tflite::tflm_signal::Register_FRAMER());
  }
  TfLiteStatus AddIrfft(const TFLMRegistration* registration =
                            tflite::tflm_signal::Register_IRFFT()) {
    return AddCustom("SignalIrfft", registration);
  }
  TfLiteStatus AddOverlapAdd() {
    return AddCustom("SignalOverlapAdd",
                     tflite::tflm_signal::Register_OVERLAP_ADD());
  }
  TfLiteStatus AddPCAN() {
    return AddCustom("SignalPCAN", tflite::tflm_signal::Register_PCAN());
  }
  TfLiteStatus AddRfft(const TFLMRegistration* registration =
                           tflite::tflm_signal::Register_RFFT()) {
    return AddCustom("SignalRfft", registration);
  }
  TfLiteStatus AddStacker() {
    return AddCustom("SignalStacker", tflite::tflm_signal::Register_STACKER());
  }
  TfLiteStatus AddWindow() {
    return AddCustom("SignalWindow", tflite::tflm_signal::Register_WINDOW());
  }

  /* The Add* methods the port calls (device/port/esp_idf/op_resolver.h), with the real default
   * arguments and parsers (AddResizeNearestNeighbor takes no registration, v1.3.4 to v1.3.8). */
  TfLiteStatus AddAdd(const TFLMRegistration& registration = Register_ADD()) {
    return AddBuiltin(BuiltinOperator_ADD, registration, ParseAdd);
  }
  TfLiteStatus AddArgMax(
      const TFLMRegistration& registration = Register_ARG_MAX()) {
    return AddBuiltin(BuiltinOperator_ARG_MAX, registration, ParseArgMax);
  }
  TfLiteStatus AddAveragePool2D(
      const TFLMRegistration& registration = Register_AVERAGE_POOL_2D()) {
    return AddBuiltin(BuiltinOperator_AVERAGE_POOL_2D, registration, ParsePool);
  }
  TfLiteStatus AddBatchToSpaceNd(
      const TFLMRegistration& registration = Register_BATCH_TO_SPACE_ND()) {
    return AddBuiltin(BuiltinOperator_BATCH_TO_SPACE_ND, registration,
                      ParseBatchToSpaceNd);
  }
  TfLiteStatus AddConcatenation(
      const TFLMRegistration& registration = Register_CONCATENATION()) {
    return AddBuiltin(BuiltinOperator_CONCATENATION, registration,
                      ParseConcatenation);
  }
  TfLiteStatus AddConv2D(
      const TFLMRegistration& registration = Register_CONV_2D()) {
    return AddBuiltin(BuiltinOperator_CONV_2D, registration, ParseConv2D);
  }
  TfLiteStatus AddDepthwiseConv2D(
      const TFLMRegistration& registration = Register_DEPTHWISE_CONV_2D()) {
    return AddBuiltin(BuiltinOperator_DEPTHWISE_CONV_2D, registration,
                      ParseDepthwiseConv2D);
  }
  TfLiteStatus AddDequantize(
      const TFLMRegistration& registration = Register_DEQUANTIZE()) {
    return AddBuiltin(BuiltinOperator_DEQUANTIZE, registration,
                      ParseDequantize);
  }
  TfLiteStatus AddExpandDims(
      const TFLMRegistration& registration = Register_EXPAND_DIMS()) {
    return AddBuiltin(BuiltinOperator_EXPAND_DIMS, registration,
                      ParseExpandDims);
  }
  TfLiteStatus AddFullyConnected(
      const TFLMRegistration& registration = Register_FULLY_CONNECTED()) {
    return AddBuiltin(BuiltinOperator_FULLY_CONNECTED, registration,
                      ParseFullyConnected);
  }
  TfLiteStatus AddGather(
      const TFLMRegistration& registration = tflite::Register_GATHER()) {
    return AddBuiltin(BuiltinOperator_GATHER, registration, ParseGather);
  }
  TfLiteStatus AddHardSwish(
      const TFLMRegistration& registration = tflite::Register_HARD_SWISH()) {
    return AddBuiltin(BuiltinOperator_HARD_SWISH, registration, ParseHardSwish);
  }
  TfLiteStatus AddLeakyRelu(
      const TFLMRegistration& registration = tflite::Register_LEAKY_RELU()) {
    return AddBuiltin(BuiltinOperator_LEAKY_RELU, registration, ParseLeakyRelu);
  }
  TfLiteStatus AddLogistic(
      const TFLMRegistration& registration = tflite::Register_LOGISTIC()) {
    return AddBuiltin(BuiltinOperator_LOGISTIC, registration, ParseLogistic);
  }
  TfLiteStatus AddMaxPool2D(
      const TFLMRegistration& registration = Register_MAX_POOL_2D()) {
    return AddBuiltin(BuiltinOperator_MAX_POOL_2D, registration, ParsePool);
  }
  TfLiteStatus AddMaximum(
      const TFLMRegistration& registration = Register_MAXIMUM()) {
    return AddBuiltin(BuiltinOperator_MAXIMUM, registration, ParseMaximum);
  }
  TfLiteStatus AddMean(const TFLMRegistration& registration = Register_MEAN()) {
    return AddBuiltin(BuiltinOperator_MEAN, registration, ParseReducer);
  }
  TfLiteStatus AddMinimum(
      const TFLMRegistration& registration = Register_MINIMUM()) {
    return AddBuiltin(BuiltinOperator_MINIMUM, registration, ParseMinimum);
  }
  TfLiteStatus AddMul(const TFLMRegistration& registration = Register_MUL()) {
    return AddBuiltin(BuiltinOperator_MUL, registration, ParseMul);
  }
  TfLiteStatus AddPack(const TFLMRegistration& registration = Register_PACK()) {
    return AddBuiltin(BuiltinOperator_PACK, registration, ParsePack);
  }
  TfLiteStatus AddPad(const TFLMRegistration& registration = Register_PAD()) {
    return AddBuiltin(BuiltinOperator_PAD, registration, ParsePad);
  }
  TfLiteStatus AddPrelu(
      const TFLMRegistration& registration = tflite::Register_PRELU()) {
    return AddBuiltin(BuiltinOperator_PRELU, registration, ParsePrelu);
  }
  TfLiteStatus AddQuantize(
      const TFLMRegistration& registration = Register_QUANTIZE()) {
    return AddBuiltin(BuiltinOperator_QUANTIZE, registration, ParseQuantize);
  }
  TfLiteStatus AddReduceMax(
      const TFLMRegistration& registration = Register_REDUCE_MAX()) {
    return AddBuiltin(BuiltinOperator_REDUCE_MAX, registration, ParseReducer);
  }
  TfLiteStatus AddRelu(
      const TFLMRegistration& registration = tflite::Register_RELU()) {
    return AddBuiltin(BuiltinOperator_RELU, registration, ParseRelu);
  }
  TfLiteStatus AddRelu6(
      const TFLMRegistration& registration = tflite::Register_RELU6()) {
    return AddBuiltin(BuiltinOperator_RELU6, registration, ParseRelu6);
  }
  TfLiteStatus AddReshape(
      const TFLMRegistration& registration = Register_RESHAPE()) {
    return AddBuiltin(BuiltinOperator_RESHAPE, registration, ParseReshape);
  }
  TfLiteStatus AddResizeBilinear(
      const TFLMRegistration& registration = Register_RESIZE_BILINEAR()) {
    return AddBuiltin(BuiltinOperator_RESIZE_BILINEAR, registration,
                      ParseResizeBilinear);
  }
  TfLiteStatus AddResizeNearestNeighbor() {
    return AddBuiltin(BuiltinOperator_RESIZE_NEAREST_NEIGHBOR,
                      Register_RESIZE_NEAREST_NEIGHBOR(),
                      ParseResizeNearestNeighbor);
  }
  TfLiteStatus AddSlice(
      const TFLMRegistration& registration = Register_SLICE()) {
    return AddBuiltin(BuiltinOperator_SLICE, registration, ParseSlice);
  }
  TfLiteStatus AddSoftmax(
      const TFLMRegistration& registration = Register_SOFTMAX()) {
    return AddBuiltin(BuiltinOperator_SOFTMAX, registration, ParseSoftmax);
  }
  TfLiteStatus AddSpaceToBatchNd(
      const TFLMRegistration& registration = Register_SPACE_TO_BATCH_ND()) {
    return AddBuiltin(BuiltinOperator_SPACE_TO_BATCH_ND, registration,
                      ParseSpaceToBatchNd);
  }
  TfLiteStatus AddSplit(
      const TFLMRegistration& registration = Register_SPLIT()) {
    return AddBuiltin(BuiltinOperator_SPLIT, registration, ParseSplit);
  }
  TfLiteStatus AddSplitV(
      const TFLMRegistration& registration = Register_SPLIT_V()) {
    return AddBuiltin(BuiltinOperator_SPLIT_V, registration, ParseSplitV);
  }
  TfLiteStatus AddSqueeze(
      const TFLMRegistration& registration = Register_SQUEEZE()) {
    return AddBuiltin(BuiltinOperator_SQUEEZE, registration, ParseSqueeze);
  }
  TfLiteStatus AddStridedSlice(
      const TFLMRegistration& registration = Register_STRIDED_SLICE()) {
    return AddBuiltin(BuiltinOperator_STRIDED_SLICE, registration,
                      ParseStridedSlice);
  }
  TfLiteStatus AddSub(
      const TFLMRegistration& registration = tflite::Register_SUB()) {
    return AddBuiltin(BuiltinOperator_SUB, registration, ParseSub);
  }
  TfLiteStatus AddSvdf(const TFLMRegistration& registration = Register_SVDF()) {
    return AddBuiltin(BuiltinOperator_SVDF, registration, ParseSvdf);
  }
  TfLiteStatus AddTanh(const TFLMRegistration& registration = Register_TANH()) {
    return AddBuiltin(BuiltinOperator_TANH, registration, ParseTanh);
  }
  TfLiteStatus AddTranspose(
      const TFLMRegistration& registration = Register_TRANSPOSE()) {
    return AddBuiltin(BuiltinOperator_TRANSPOSE, registration, ParseTranspose);
  }
  TfLiteStatus AddTransposeConv(
      const TFLMRegistration& registration = Register_TRANSPOSE_CONV()) {
    return AddBuiltin(BuiltinOperator_TRANSPOSE_CONV, registration,
                      ParseTransposeConv);
  }
  TfLiteStatus AddUnidirectionalSequenceLSTM(
      const TFLMRegistration& registration =
          Register_UNIDIRECTIONAL_SEQUENCE_LSTM()) {
    return AddBuiltin(BuiltinOperator_UNIDIRECTIONAL_SEQUENCE_LSTM,
                      registration, ParseUnidirectionalSequenceLSTM);
  }
  TfLiteStatus AddUnpack(
      const TFLMRegistration& registration = Register_UNPACK()) {
    return AddBuiltin(BuiltinOperator_UNPACK, registration, ParseUnpack);
  }

 private:
  TfLiteStatus AddBuiltin(tflite::BuiltinOperator op,
                          const TFLMRegistration& registration,
                          TfLiteBridgeBuiltinParseFunction parser) {
    if (op == BuiltinOperator_CUSTOM) {
      MicroPrintf("Invalid parameter BuiltinOperator_CUSTOM to the ");
      MicroPrintf("AddBuiltin function.");
      return kTfLiteError;
    }
    if (FindOp(op) != nullptr) {
      MicroPrintf("Calling AddBuiltin with the same op more than ");
      MicroPrintf("once is not supported (Op: #%d).", op);
      return kTfLiteError;
    }
    if (registrations_len_ >= tOpCount) {
      MicroPrintf("Couldn't register builtin op #%d, resolver size ", op);
      MicroPrintf("is too small (%d).", tOpCount);
      return kTfLiteError;
    }
    registrations_[registrations_len_] = registration;
    registrations_[registrations_len_].builtin_code = op;
    registrations_len_++;
    builtin_codes_[num_buitin_ops_] = op;
    builtin_parsers_[num_buitin_ops_] = parser;
    num_buitin_ops_++;
    return kTfLiteOk;
  }

  TFLMRegistration registrations_[tOpCount];
  unsigned int registrations_len_ = 0;
  BuiltinOperator builtin_codes_[tOpCount];
  TfLiteBridgeBuiltinParseFunction builtin_parsers_[tOpCount];
  unsigned int num_buitin_ops_ = 0;
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_
