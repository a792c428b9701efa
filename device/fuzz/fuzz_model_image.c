/* The model-image parser (device/core/espml_model_image.c). Input: the bytes of a slot.
 * Checked as given, then again with the header made self-consistent (magic, version, size, the
 * header CRC and, when the length fits, the payload's SHA-256 fixed up), so the paths past the
 * checks are reached whatever the fuzzer's luck; the slot is an exact-size heap copy. The two
 * halves of the input, as slots A and B, go through espml_image_choose. */
#include "espml_crc32.h"
#include "espml_model_image.h"
#include "espml_sha256.h"
#include "fuzz_util.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static int same_summary(const espml_tensor_summary_t *a, const espml_tensor_summary_t *b)
{
    return a->dtype == b->dtype && a->rank == b->rank && memcmp(a->dims, b->dims, sizeof a->dims) == 0 &&
           memcmp(&a->scale, &b->scale, sizeof a->scale) == 0 && a->zero_point == b->zero_point;
}

static int check(const uint8_t *slot, size_t length, espml_image_header_t *header)
{
    espml_image_header_t parsed;
    const uint8_t *payload = NULL;
    int parse = espml_image_parse_header(slot, length, &parsed);
    int verify = espml_image_verify(slot, length, espml_sha256, header, &payload);
    FUZZ_CHECK(parse == 0 || parse == -1);
    FUZZ_CHECK(verify == 0 || verify == -1);
    FUZZ_CHECK(verify != 0 || parse == 0); /* verified implies parsed */
    if (verify == 0) {
        uint8_t digest[32];
        FUZZ_CHECK(payload == slot + ESPML_IMAGE_HEADER_SIZE);
        FUZZ_CHECK(header->payload_length <= length - ESPML_IMAGE_HEADER_SIZE);
        FUZZ_CHECK(header->payload_length == parsed.payload_length && header->sequence == parsed.sequence);
        FUZZ_CHECK(same_summary(&header->input, &parsed.input) && same_summary(&header->output, &parsed.output));
        espml_sha256(payload, header->payload_length, digest);
        FUZZ_CHECK(memcmp(digest, header->payload_sha256, 32) == 0);
    }
    return verify;
}

/* A copy of `data` whose header passes every check but the payload's (which passes too when the
 * length field fits the slot). */
static uint8_t *consistent(const uint8_t *data, size_t size)
{
    uint8_t *slot = fuzz_copy(data, size);
    if (size < ESPML_IMAGE_HEADER_SIZE) {
        return slot;
    }
    memcpy(slot, "EMLI", 4);
    slot[4] = ESPML_IMAGE_FORMAT_VERSION, slot[5] = 0;
    slot[6] = ESPML_IMAGE_HEADER_SIZE & 0xFF, slot[7] = ESPML_IMAGE_HEADER_SIZE >> 8;
    uint32_t length = (uint32_t)slot[8] | (uint32_t)slot[9] << 8 | (uint32_t)slot[10] << 16 | (uint32_t)slot[11] << 24;
    if (length > size - ESPML_IMAGE_HEADER_SIZE && (slot[11] & 0x80) == 0) {
        length = (uint32_t)((size - ESPML_IMAGE_HEADER_SIZE) * (slot[8] + 1) / 256); /* mostly in range */
        put32(slot + 8, length);
    }
    if (length <= size - ESPML_IMAGE_HEADER_SIZE) {
        espml_sha256(slot + ESPML_IMAGE_HEADER_SIZE, length, slot + 16);
    }
    put32(slot + 120, espml_crc32(slot, 120));
    return slot;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    espml_image_header_t a, b;
    uint8_t *slot = fuzz_copy(data, size);
    check(slot, size, &a);
    free(slot);

    slot = consistent(data, size);
    int valid = check(slot, size, &a);
    FUZZ_CHECK(size < ESPML_IMAGE_HEADER_SIZE || espml_image_parse_header(slot, size, &b) == 0);
    free(slot);

    size_t half = size / 2;
    uint8_t *first = consistent(data, half), *second = consistent(data + half, size - half);
    int valid_a = check(first, half, &a), valid_b = check(second, size - half, &b);
    int chosen = espml_image_choose(valid_a, &a, valid_b, &b);
    FUZZ_CHECK(chosen >= -1 && chosen <= 1);
    FUZZ_CHECK((chosen == -1) == (valid_a != 0 && valid_b != 0));
    FUZZ_CHECK(chosen != 0 || valid_a == 0);
    FUZZ_CHECK(chosen != 1 || valid_b == 0);
    if (valid_a == 0 && valid_b == 0) { /* the image written after the other one (sequence + 1) wins */
        FUZZ_CHECK(b.sequence != a.sequence + 1 || chosen == 1);
        FUZZ_CHECK(a.sequence != b.sequence + 1 || chosen == 0);
        if (a.sequence != b.sequence && (uint32_t)(a.sequence - b.sequence) != 0x80000000u) {
            FUZZ_CHECK(espml_image_choose(valid_b, &b, valid_a, &a) == 1 - chosen); /* either order */
        }
    }
    free(first);
    free(second);
    (void)valid;
    return 0;
}
