/* Declaration-only mirror for the link check: only what the port uses.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4): tensorflow/lite/micro/micro_interpreter.h; for
 * MicroAllocator::used_bytes tensorflow/lite/micro/micro_allocator.h (defined in
 * micro_allocator.cc). arena_used_bytes() exists in v1.3.4 .. v1.3.8 (inline, calling used_bytes()). */
#ifndef TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_
#define TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace tflite {

/* micro_resource_variable.h, micro_profiler_interface.h: only named here. */
class MicroResourceVariables;
class MicroProfilerInterface;

/* micro_allocator.h */
class MicroAllocator {
 public:
  size_t used_bytes() const;
};

/* micro_interpreter.h. The members are the ones the port uses; the private data members stand in
 * for the real ones (only the two the inline bodies read), so sizeof differs from the real class. */
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver,
                   uint8_t* tensor_arena, size_t tensor_arena_size,
                   MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr,
                   bool preserve_all_tensors = false);

  ~MicroInterpreter();

  TfLiteStatus AllocateTensors();

  TfLiteStatus Invoke();

  TfLiteTensor* input(size_t index);

  /* Inline in the real header: model_->subgraphs()->Get(0)->inputs()->size(), flatbuffers
   * accessors that are all inline (no symbol). Stand-in body, never run. */
  size_t inputs_size() const { return model_ == nullptr ? 0 : 1; }

  TfLiteTensor* output(size_t index);

  /* As inputs_size(): ...->outputs()->size(). Stand-in body, never run. */
  size_t outputs_size() const { return model_ == nullptr ? 0 : 1; }

  size_t arena_used_bytes() const { return allocator_.used_bytes(); }

 private:
  const Model* model_;
  MicroAllocator& allocator_;
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_
