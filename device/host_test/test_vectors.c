/* The firmware's portable C against the same vectors as the Python side. Prints "N passed, M failed". */
#include <stdio.h>
#include <string.h>

#include "espml_cobs.h"
#include "espml_crc32.h"
#include "espml_frame.h"
#include "espml_model_image.h"
#include "espml_sha256.h"
#include "vectors.h"

#define MAX_FRAME 70000
static int passed, failed;

static void check(int ok, const char *what, const char *name)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: %s\n", what, name);
    }
}

static void protocol_case(const protocol_case_t *c)
{
    static uint8_t buffer[MAX_FRAME * 2], decoded[MAX_FRAME * 2], scratch[MAX_FRAME], out[MAX_FRAME * 2];
    espml_decoder_t decoder;
    espml_frame_t frame;
    int event = 0, ok = 1;
    espml_decoder_init(&decoder, buffer, decoded, sizeof buffer);
    for (size_t i = 0; i < c->wire_length; i++) {
        espml_decode_result_t r = espml_decoder_feed(&decoder, c->wire[i], &frame);
        if (r == ESPML_DECODE_NOTHING) {
            continue;
        }
        if (event >= c->event_count) {
            ok = 0;
            break;
        }
        const vector_event_t *want = &c->events[event++];
        if (want->garbage) {
            ok &= r == ESPML_DECODE_GARBAGE;
        } else {
            ok &= r == ESPML_DECODE_FRAME && frame.version == want->version && frame.type == want->type &&
                  frame.flags == want->flags && frame.seq == want->seq && frame.payload_length == want->payload_length &&
                  memcmp(frame.payload, want->payload, want->payload_length) == 0;
            if (c->event_count == 1) { /* a lone frame must encode back to the same bytes */
                espml_frame_t again = {want->version, want->type, want->flags, want->seq, want->payload,
                                       want->payload_length};
                size_t n = espml_frame_encode(&again, scratch, sizeof scratch, out, sizeof out);
                ok &= n == c->wire_length && memcmp(out, c->wire, n) == 0;
            }
        }
    }
    check(ok && event == c->event_count, "protocol vector", c->name);
}

static void image_case(const image_case_t *c)
{
    espml_image_header_t header;
    const uint8_t *payload = NULL;
    int valid = espml_image_verify(c->slot, c->length, espml_sha256, &header, &payload) == 0;
    int ok = valid == c->valid;
    if (ok && valid) {
        ok = header.sequence == c->sequence && header.payload_length == c->payload_length &&
             payload == c->slot + ESPML_IMAGE_HEADER_SIZE;
    }
    check(ok, "image vector", c->name);
}

int main(void)
{
    uint8_t digest[32];
    static const uint8_t abc_sha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                           0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                           0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    check(espml_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u, "crc32 check value", "123456789");
    espml_sha256((const uint8_t *)"abc", 3, digest);
    check(memcmp(digest, abc_sha256, 32) == 0, "sha256", "abc");
    uint8_t run[254], encoded[300], back[300];
    memset(run, 1, sizeof run);
    size_t n = espml_cobs_encode(run, sizeof run, encoded, sizeof encoded);
    check(n == 255 && espml_cobs_decode(encoded, n, back, sizeof back) == 254, "cobs canonical", "254 x 0x01");
    for (size_t i = 0; i < sizeof protocol_cases / sizeof protocol_cases[0]; i++) {
        protocol_case(&protocol_cases[i]);
    }
    for (size_t i = 0; i < sizeof image_cases / sizeof image_cases[0]; i++) {
        image_case(&image_cases[i]);
    }
    espml_image_header_t a = {.sequence = 3}, b = {.sequence = 4};
    check(espml_image_choose(0, &a, 0, &b) == 1 && espml_image_choose(0, &a, -1, &b) == 0 &&
              espml_image_choose(-1, &a, -1, &b) == -1, "slot choice", "newest valid");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
