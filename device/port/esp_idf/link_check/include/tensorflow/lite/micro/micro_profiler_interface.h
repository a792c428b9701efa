/* Declaration-only mirror for the link check.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4): tensorflow/lite/micro/micro_profiler_interface.h (the whole
 * interface: TFLite-Micro's graph calls BeginEvent/EndEvent around every kernel's Invoke). */
#ifndef TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_
#define TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_

#include <cstdint>

namespace tflite {

class MicroProfilerInterface {
 public:
  virtual ~MicroProfilerInterface() {}
  virtual uint32_t BeginEvent(const char* tag) = 0;
  virtual void EndEvent(uint32_t event_handle) = 0;
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_
