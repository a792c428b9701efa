/* Just enough of a TFLite flatbuffer to check a model before TFLite-Micro sees it: the schema
 * version, the builtin code of every operator code and a custom op's custom code, every read
 * bounds-checked. */
#ifndef ESPML_TFLITE_H
#define ESPML_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESPML_TFLITE_SCHEMA_VERSION 3
#define ESPML_TFLITE_CUSTOM 32 /* BuiltinOperator_CUSTOM */

typedef struct {
    uint32_t version;
    uint32_t op_code_count;
} espml_tflite_summary_t;

/* Reads the root table. Returns 0, or -1 when `model` is not a well-formed TFLite flatbuffer. */
int espml_tflite_summary(const uint8_t *model, size_t size, espml_tflite_summary_t *summary);

/* The builtin code of operator code `index` (TFLite's GetBuiltinCode: the larger of the deprecated
 * 8-bit and the 32-bit field). Returns -1 for an index or table outside the buffer. */
int32_t espml_tflite_op_code(const uint8_t *model, size_t size, uint32_t index);

/* The custom code of operator code `index` (its string, not NUL-terminated, in `*name`, `*length`
 * bytes; length 0 when absent). Returns 0, or -1 for an index, table or string outside the buffer. */
int espml_tflite_custom_code(const uint8_t *model, size_t size, uint32_t index, const uint8_t **name,
                             size_t *length);

#ifdef __cplusplus
}
#endif

#endif
