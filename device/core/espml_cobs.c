#include "espml_cobs.h"

size_t espml_cobs_encode(const uint8_t *in, size_t length, uint8_t *out, size_t capacity)
{
    size_t code_at = 0, write = 1;
    uint8_t code = 1;
    if (capacity < ESPML_COBS_MAX_ENCODED(length)) {
        return 0;
    }
    for (size_t i = 0; i < length; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = write++;
            code = 1;
            continue;
        }
        out[write++] = in[i];
        if (++code == 0xFF) {
            out[code_at] = code;
            code = 1;
            if (i + 1 == length) {
                return write; /* canonical: a final full block needs no empty block after it */
            }
            code_at = write++;
        }
    }
    out[code_at] = code;
    return write;
}

long espml_cobs_decode(const uint8_t *in, size_t length, uint8_t *out, size_t capacity)
{
    size_t read = 0, write = 0;
    while (read < length) {
        uint8_t code = in[read++];
        if (code == 0 || read + (size_t)(code - 1) > length) {
            return -1;
        }
        for (uint8_t i = 1; i < code; i++) {
            if (in[read] == 0 || write >= capacity) {
                return -1;
            }
            out[write++] = in[read++];
        }
        if (code != 0xFF && read < length) {
            if (write >= capacity) {
                return -1;
            }
            out[write++] = 0;
        }
    }
    return (long)write;
}
