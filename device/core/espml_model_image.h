/* Model images in the model_a / model_b partitions (docs/model_image.md), format version 1. */
#ifndef ESPML_MODEL_IMAGE_H
#define ESPML_MODEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESPML_IMAGE_HEADER_SIZE 256
#define ESPML_IMAGE_FORMAT_VERSION 1

typedef struct {
    uint8_t dtype; /* TFLite TensorType */
    uint8_t rank;
    int32_t dims[6];
    float scale;
    int32_t zero_point;
} espml_tensor_summary_t;

typedef struct {
    uint32_t payload_length;
    uint32_t sequence;
    uint8_t payload_sha256[32];
    espml_tensor_summary_t input;
    espml_tensor_summary_t output;
} espml_image_header_t;

/* SHA-256 of `length` bytes into `digest`: mbedTLS on the device, the portable one on the host. */
typedef void (*espml_sha256_fn)(const uint8_t *data, size_t length, uint8_t digest[32]);

/* Parse the header at the start of `slot` (magic, version, size, CRC). Returns 0 or -1. */
int espml_image_parse_header(const uint8_t *slot, size_t length, espml_image_header_t *header);

/* Parse and verify the whole image: payload within the slot and its SHA-256. Returns 0 or -1;
 * on 0, *payload points at the TFLite bytes inside `slot`. */
int espml_image_verify(const uint8_t *slot, size_t length, espml_sha256_fn sha256, espml_image_header_t *header,
                       const uint8_t **payload);

/* Of two slots' verification results (0 valid) and headers, the index to run, or -1 for none. */
int espml_image_choose(int valid_a, const espml_image_header_t *a, int valid_b, const espml_image_header_t *b);

#ifdef __cplusplus
}
#endif

#endif
