#include "espml_model_image.h"

#include <string.h>

#include "espml_crc32.h"

#define CRC_OFFSET 120
#define TENSOR_SIZE 36

static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void tensor_summary(const uint8_t *p, espml_tensor_summary_t *t)
{
    t->dtype = p[0];
    t->rank = p[1];
    for (int i = 0; i < 6; i++) {
        t->dims[i] = (int32_t)u32(p + 4 + 4 * i);
    }
    uint32_t bits = u32(p + 28);
    memcpy(&t->scale, &bits, sizeof t->scale);
    t->zero_point = (int32_t)u32(p + 32);
}

int espml_image_parse_header(const uint8_t *slot, size_t length, espml_image_header_t *header)
{
    if (length < ESPML_IMAGE_HEADER_SIZE || memcmp(slot, "EMLI", 4) != 0) {
        return -1;
    }
    if (u16(slot + 4) != ESPML_IMAGE_FORMAT_VERSION || u16(slot + 6) != ESPML_IMAGE_HEADER_SIZE) {
        return -1;
    }
    if (espml_crc32(slot, CRC_OFFSET) != u32(slot + CRC_OFFSET)) {
        return -1;
    }
    header->payload_length = u32(slot + 8);
    header->sequence = u32(slot + 12);
    memcpy(header->payload_sha256, slot + 16, 32);
    tensor_summary(slot + 48, &header->input);
    tensor_summary(slot + 48 + TENSOR_SIZE, &header->output);
    return 0;
}

int espml_image_verify(const uint8_t *slot, size_t length, espml_sha256_fn sha256, espml_image_header_t *header,
                       const uint8_t **payload)
{
    uint8_t digest[32];
    if (espml_image_parse_header(slot, length, header) != 0) {
        return -1;
    }
    if (header->payload_length > length - ESPML_IMAGE_HEADER_SIZE) {
        return -1;
    }
    sha256(slot + ESPML_IMAGE_HEADER_SIZE, header->payload_length, digest);
    if (memcmp(digest, header->payload_sha256, 32) != 0) {
        return -1;
    }
    *payload = slot + ESPML_IMAGE_HEADER_SIZE;
    return 0;
}

int espml_image_choose(int valid_a, const espml_image_header_t *a, int valid_b, const espml_image_header_t *b)
{
    if (valid_a != 0 && valid_b != 0) {
        return -1;
    }
    if (valid_a != 0) {
        return 1;
    }
    if (valid_b != 0) {
        return 0;
    }
    /* Serial-number order (RFC 1982): the sequence after 0xFFFFFFFF is 0, and it is newer. */
    uint32_t ahead = b->sequence - a->sequence;
    return ahead != 0 && ahead < 0x80000000u ? 1 : 0;
}
