/* The flatbuffer reader the firmware runs before TFLite-Micro sees a model
 * (device/core/espml_tflite.c). Input: the model bytes, as an exact-size heap copy.
 * espml_tflite_summary either refuses them or every op code it counted reads; op codes past the
 * count are refused; the op tables answer for whatever code comes back; and a custom code, when it
 * reads, lies inside the buffer. */
#include "espml_ops.h"
#include "espml_tflite.h"
#include "fuzz_util.h"

#define MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    uint8_t *model = fuzz_copy(data, size);
    espml_tflite_summary_t summary;
    if (espml_tflite_summary(model, size, &summary) == 0) {
        FUZZ_CHECK((size_t)summary.op_code_count <= size / 4);
        for (uint32_t i = 0; i < summary.op_code_count; i++) {
            int32_t code = espml_tflite_op_code(model, size, i);
            FUZZ_CHECK(code >= -128);
            (void)espml_op_registered(code);
            FUZZ_CHECK(espml_builtin_name(code) != NULL);
            const uint8_t *name;
            size_t length;
            if (espml_tflite_custom_code(model, size, i, &name, &length) == 0 && length > 0) {
                FUZZ_CHECK(name >= model && length <= size && name - model <= (ptrdiff_t)(size - length));
                (void)espml_custom_op_registered(name, length);
            }
        }
        const uint8_t *none;
        size_t none_length;
        FUZZ_CHECK(espml_tflite_custom_code(model, size, summary.op_code_count, &none, &none_length) == -1);
        FUZZ_CHECK(espml_tflite_op_code(model, size, summary.op_code_count) == -1);
        FUZZ_CHECK(espml_tflite_op_code(model, size, UINT32_MAX) == -1);
    } else {
        for (uint32_t i = 0; i < 4; i++) {
            (void)espml_builtin_name(espml_tflite_op_code(model, size, i));
        }
    }
    free(model);
    return 0;
}
