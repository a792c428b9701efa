/* Consistent Overhead Byte Stuffing (docs/protocol.md): no 0x00 in the output, so 0x00 delimits. */
#ifndef ESPML_COBS_H
#define ESPML_COBS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest encoding of `length` bytes. */
#define ESPML_COBS_MAX_ENCODED(length) ((length) + (length) / 254 + 1)

/* Returns the encoded length, or 0 if `capacity` is too small. */
size_t espml_cobs_encode(const uint8_t *in, size_t length, uint8_t *out, size_t capacity);

/* Returns the decoded length, or -1 for malformed input or too small a `capacity`. */
long espml_cobs_decode(const uint8_t *in, size_t length, uint8_t *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
