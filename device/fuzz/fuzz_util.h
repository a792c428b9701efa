/* Shared by the fuzz targets: a cursor over the fuzzer's input, and a check that stops the run
 * (abort: libFuzzer and the replay driver both report it as a crash with the input that caused it). */
#ifndef ESPML_FUZZ_UTIL_H
#define ESPML_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n, at;
} fuzz_input_t;

static inline size_t fuzz_left(const fuzz_input_t *in) { return in->n - in->at; }

static inline uint8_t fuzz_u8(fuzz_input_t *in) { return in->at < in->n ? in->p[in->at++] : 0; }

static inline uint16_t fuzz_u16(fuzz_input_t *in)
{
    uint16_t low = fuzz_u8(in);
    return (uint16_t)(low | fuzz_u8(in) << 8);
}

/* Up to `want` bytes (fewer at the end of the input); returns how many, *bytes points at them. */
static inline size_t fuzz_bytes(fuzz_input_t *in, size_t want, const uint8_t **bytes)
{
    size_t n = want < fuzz_left(in) ? want : fuzz_left(in);
    *bytes = in->p + in->at;
    in->at += n;
    return n;
}

/* A heap copy of exactly `length` bytes, so AddressSanitizer catches a read one byte past it
 * (malloc(0) may return NULL: callers never dereference an empty buffer). */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t length)
{
    uint8_t *copy = calloc(length ? length : 1, 1);
    FUZZ_CHECK(copy != NULL);
    if (length) {
        memcpy(copy, data, length);
    }
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
