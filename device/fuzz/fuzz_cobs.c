/* COBS (device/core/espml_cobs.c). Input: any bytes.
 * - decode them into an exact-size heap buffer, at full and at a smaller capacity: no overrun, a
 *   result within the capacity, and a smaller capacity never yields a different success;
 * - what decodes, encodes again and decodes to the same bytes, with no 0x00 in the encoding;
 * - the input itself encodes within ESPML_COBS_MAX_ENCODED and decodes back to itself. */
#include "espml_cobs.h"
#include "fuzz_util.h"

#define MAX_INPUT 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    uint8_t *out = malloc(size ? size : 1);
    FUZZ_CHECK(out != NULL);
    long n = espml_cobs_decode(data, size, out, size);
    FUZZ_CHECK(n >= -1 && n <= (long)size);

    size_t small = size ? data[0] % (size + 1) : 0;
    uint8_t *tight = malloc(small ? small : 1);
    FUZZ_CHECK(tight != NULL);
    long m = espml_cobs_decode(data, size, tight, small);
    FUZZ_CHECK(m >= -1 && m <= (long)small);
    FUZZ_CHECK(m == -1 || (m == n && memcmp(tight, out, (size_t)m) == 0));
    free(tight);

    if (n >= 0) {
        size_t cap = ESPML_COBS_MAX_ENCODED((size_t)n);
        uint8_t *again = malloc(cap), *back = malloc(n ? (size_t)n : 1);
        FUZZ_CHECK(again != NULL && back != NULL);
        size_t e = espml_cobs_encode(out, (size_t)n, again, cap);
        FUZZ_CHECK(e > 0 && e <= cap && memchr(again, 0, e) == NULL);
        FUZZ_CHECK(espml_cobs_decode(again, e, back, (size_t)n) == n);
        FUZZ_CHECK(n == 0 || memcmp(back, out, (size_t)n) == 0);
        FUZZ_CHECK(espml_cobs_encode(out, (size_t)n, again, cap - 1) == 0); /* too small: refused */
        free(again);
        free(back);
    }
    free(out);

    size_t cap = ESPML_COBS_MAX_ENCODED(size);
    uint8_t *encoded = malloc(cap), *decoded = malloc(size ? size : 1);
    FUZZ_CHECK(encoded != NULL && decoded != NULL);
    size_t e = espml_cobs_encode(data, size, encoded, cap);
    FUZZ_CHECK(e > 0 && e <= cap && memchr(encoded, 0, e) == NULL);
    FUZZ_CHECK(espml_cobs_decode(encoded, e, decoded, size) == (long)size);
    FUZZ_CHECK(size == 0 || memcmp(decoded, data, size) == 0);
    free(encoded);
    free(decoded);
    return 0;
}
