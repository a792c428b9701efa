/* Declaration-only mirror for the link check: only what the port uses.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4): tensorflow/lite/schema/schema_generated.h (flatc output). */
#ifndef FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_
#define FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_

#include <stdint.h>

namespace tflite {

/* The operators of device/ops.txt, and CUSTOM (used by MicroMutableOpResolver). */
enum BuiltinOperator : int32_t {
  BuiltinOperator_ADD = 0,
  BuiltinOperator_AVERAGE_POOL_2D = 1,
  BuiltinOperator_CONCATENATION = 2,
  BuiltinOperator_CONV_2D = 3,
  BuiltinOperator_DEPTHWISE_CONV_2D = 4,
  BuiltinOperator_DEQUANTIZE = 6,
  BuiltinOperator_FULLY_CONNECTED = 9,
  BuiltinOperator_LOGISTIC = 14,
  BuiltinOperator_MAX_POOL_2D = 17,
  BuiltinOperator_MUL = 18,
  BuiltinOperator_RELU = 19,
  BuiltinOperator_RELU6 = 21,
  BuiltinOperator_RESHAPE = 22,
  BuiltinOperator_RESIZE_BILINEAR = 23,
  BuiltinOperator_SOFTMAX = 25,
  BuiltinOperator_SVDF = 27,
  BuiltinOperator_TANH = 28,
  BuiltinOperator_CUSTOM = 32,
  BuiltinOperator_PAD = 34,
  BuiltinOperator_GATHER = 36,
  BuiltinOperator_BATCH_TO_SPACE_ND = 37,
  BuiltinOperator_SPACE_TO_BATCH_ND = 38,
  BuiltinOperator_TRANSPOSE = 39,
  BuiltinOperator_MEAN = 40,
  BuiltinOperator_SUB = 41,
  BuiltinOperator_SQUEEZE = 43,
  BuiltinOperator_UNIDIRECTIONAL_SEQUENCE_LSTM = 44,
  BuiltinOperator_STRIDED_SLICE = 45,
  BuiltinOperator_SPLIT = 49,
  BuiltinOperator_PRELU = 54,
  BuiltinOperator_MAXIMUM = 55,
  BuiltinOperator_ARG_MAX = 56,
  BuiltinOperator_MINIMUM = 57,
  BuiltinOperator_SLICE = 65,
  BuiltinOperator_TRANSPOSE_CONV = 67,
  BuiltinOperator_EXPAND_DIMS = 70,
  BuiltinOperator_REDUCE_MAX = 82,
  BuiltinOperator_PACK = 83,
  BuiltinOperator_UNPACK = 88,
  BuiltinOperator_RESIZE_NEAREST_NEIGHBOR = 97,
  BuiltinOperator_LEAKY_RELU = 98,
  BuiltinOperator_SPLIT_V = 102,
  BuiltinOperator_QUANTIZE = 114,
  BuiltinOperator_HARD_SWISH = 117,
};

/* flatbuffers tables (struct X FLATBUFFERS_FINAL_CLASS : private ::flatbuffers::Table); only named. */
struct Model;
struct Operator;

/* inline const tflite::Model *GetModel(const void *buf) {
 *   return ::flatbuffers::GetRoot<tflite::Model>(buf); }
 * Header-only (flatbuffers' GetRoot is an inline template): no symbol. Stand-in body, never run. */
inline const tflite::Model *GetModel(const void *buf) {
  return static_cast<const tflite::Model *>(buf);
}

}  // namespace tflite

#endif  // FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_
