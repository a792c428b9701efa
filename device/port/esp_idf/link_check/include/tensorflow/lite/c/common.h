/* Declaration-only mirror for the link check: only what the port uses.
 * espressif/esp-tflite-micro v1.3.8 (the pinned release, device/main/idf_component.yml; what the port uses is unchanged since v1.3.4): tensorflow/lite/c/common.h includes
 * tensorflow/lite/core/c/common.h, which includes tensorflow/lite/core/c/c_api_types.h.
 * The component adds -DTF_LITE_STATIC_MEMORY to its users (CMakeLists.txt:
 * target_compile_options(${COMPONENT_LIB} INTERFACE -DTF_LITE_STATIC_MEMORY)), which selects the
 * reduced TfLiteTensor. */
#ifndef TENSORFLOW_LITE_C_COMMON_H_
#define TENSORFLOW_LITE_C_COMMON_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* tensorflow/lite/core/c/c_api_types.h */
typedef enum TfLiteStatus {
  kTfLiteOk = 0,
  kTfLiteError = 1,
} TfLiteStatus;

/* tensorflow/lite/core/c/common.h: the port reads `bytes` and `data.uint8`. The real union has a
 * pointer member per type; the real struct (TF_LITE_STATIC_MEMORY) is, in order, quantization,
 * params, data, dims, bytes, type, allocation_type, is_variable. */
typedef union TfLitePtrUnion {
  uint8_t* uint8;
} TfLitePtrUnion;

typedef struct TfLiteTensor {
  TfLitePtrUnion data;
  size_t bytes;
} TfLiteTensor;

/* Only named here (in TFLMRegistration's function pointers). */
typedef struct TfLiteContext TfLiteContext;
typedef struct TfLiteNode TfLiteNode;

#ifdef __cplusplus
}
#endif

#endif  // TENSORFLOW_LITE_C_COMMON_H_
