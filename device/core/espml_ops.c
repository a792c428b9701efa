#include "espml_ops.h"

#include <string.h>

const espml_op_t espml_registered_ops[] = {
#define ESPML_OP(name, code) {#name, code},
#include "espml_ops.inc"
#undef ESPML_OP
};
const size_t espml_registered_op_count = sizeof espml_registered_ops / sizeof espml_registered_ops[0];

const char *const espml_registered_custom_ops[] = {
#define ESPML_CUSTOM_OP(name) #name,
#include "espml_custom_ops.inc"
#undef ESPML_CUSTOM_OP
    NULL, /* keeps the array non-empty when ops.txt lists no custom op */
};
const size_t espml_registered_custom_op_count =
    sizeof espml_registered_custom_ops / sizeof espml_registered_custom_ops[0] - 1;

static const espml_op_t builtins[] = {
#define ESPML_BUILTIN(name, code) {#name, code},
#include "espml_builtins.inc"
#undef ESPML_BUILTIN
};

int espml_op_registered(int32_t code)
{
    for (size_t i = 0; i < espml_registered_op_count; i++) {
        if (espml_registered_ops[i].code == code) {
            return 1;
        }
    }
    return 0;
}

int espml_custom_op_registered(const uint8_t *name, size_t length)
{
    for (size_t i = 0; i < espml_registered_custom_op_count; i++) {
        const char *known = espml_registered_custom_ops[i];
        if (strlen(known) == length && memcmp(known, name, length) == 0) {
            return 1;
        }
    }
    return 0;
}

int32_t espml_registered_op_code(const char *name)
{
    for (size_t i = 0; i < espml_registered_op_count; i++) {
        if (strcmp(espml_registered_ops[i].name, name) == 0) {
            return espml_registered_ops[i].code;
        }
    }
    return -1;
}

const char *espml_builtin_name(int32_t code)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (builtins[i].code == code) {
            return builtins[i].name;
        }
    }
    return "UNKNOWN";
}
