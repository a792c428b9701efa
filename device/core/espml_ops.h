/* The ops the firmware registers (device/ops.txt, through espml_ops.inc and espml_custom_ops.inc) and the names of all
 * TFLite builtin ops (espml_builtins.inc), so a refusal can say which op is missing. */
#ifndef ESPML_OPS_H
#define ESPML_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;
    int32_t code; /* TFLite BuiltinOperator */
} espml_op_t;

extern const espml_op_t espml_registered_ops[];
extern const size_t espml_registered_op_count;
/* The custom ops registered (ops.txt's CUSTOM:<name> lines, espml_custom_ops.inc), by custom code. */
extern const char *const espml_registered_custom_ops[];
extern const size_t espml_registered_custom_op_count;

/* 1 if the custom op `name` (`length` bytes, not NUL-terminated) is registered. */
int espml_custom_op_registered(const uint8_t *name, size_t length);

int espml_op_registered(int32_t code);
/* The builtin code of a registered op by its schema name (TFLite-Micro's profiler tags), or -1. */
int32_t espml_registered_op_code(const char *name);
/* The schema's name for a builtin code, or "UNKNOWN". */
const char *espml_builtin_name(int32_t code);

#ifdef __cplusplus
}
#endif

#endif
