#include "espml_ops.h"

#include <string.h>

const espml_op_t espml_registered_ops[] = {
#define ESPML_OP(name, code) {#name, code},
#include "espml_ops.inc"
#undef ESPML_OP
};
const size_t espml_registered_op_count = sizeof espml_registered_ops / sizeof espml_registered_ops[0];

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
