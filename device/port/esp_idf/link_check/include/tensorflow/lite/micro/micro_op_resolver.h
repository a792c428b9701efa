/* Declaration-only mirror for the link check: only what the port uses.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4):
 *   tensorflow/lite/micro/micro_op_resolver.h       class MicroOpResolver
 *   tensorflow/lite/micro/micro_common.h            struct TFLMRegistration (global namespace)
 *   tensorflow/lite/micro/tflite_bridge/flatbuffer_conversions_bridge.h
 *                                                   TfLiteBridgeBuiltinParseFunction
 *   tensorflow/compiler/mlir/lite/core/api/error_reporter.h   class ErrorReporter
 *   tensorflow/lite/core/api/flatbuffer_conversions.h          class BuiltinDataAllocator */
#ifndef TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_
#define TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_

#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"

/* micro_common.h */
struct TFLMRegistration {
  void* (*init)(TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node);
  void (*reset)(TfLiteContext* context, void* buffer);
  int32_t builtin_code;
  const char* custom_name;
};

namespace tflite {

/* Only named here. */
class ErrorReporter;
class BuiltinDataAllocator;

/* flatbuffer_conversions_bridge.h */
using TfLiteBridgeBuiltinParseFunction =
    TfLiteStatus (*)(const Operator* op, ErrorReporter* error_reporter,
                     BuiltinDataAllocator* allocator, void** builtin_data);

/* micro_op_resolver.h: all members pure virtual or inline. */
class MicroOpResolver {
 public:
  virtual const TFLMRegistration* FindOp(BuiltinOperator op) const = 0;
  virtual const TFLMRegistration* FindOp(const char* op) const = 0;
  virtual TfLiteBridgeBuiltinParseFunction GetOpDataParser(
      BuiltinOperator op) const = 0;
  virtual ~MicroOpResolver() {}
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_
