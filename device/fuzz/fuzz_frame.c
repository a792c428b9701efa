/* The frame decoder (device/core/espml_frame.c). Input: bytes as they arrive on the link.
 * Fed byte by byte to a decoder with the device's buffer size and to one with a small buffer
 * (both exact-size heap buffers). Every frame it returns is re-encoded and decodes to itself;
 * the small decoder only ever returns frames the large one returns too. */
#include "espml_cobs.h"
#include "espml_crc32.h"
#include "espml_device.h"
#include "espml_frame.h"
#include "fuzz_util.h"

#define SMALL 64

typedef struct {
    espml_decoder_t decoder;
    uint8_t *buffer, *decoded;
} decoder_t;

static void open_decoder(decoder_t *d, size_t capacity)
{
    d->buffer = malloc(capacity);
    d->decoded = malloc(capacity);
    FUZZ_CHECK(d->buffer != NULL && d->decoded != NULL);
    espml_decoder_init(&d->decoder, d->buffer, d->decoded, capacity);
}

static void close_decoder(decoder_t *d)
{
    free(d->buffer);
    free(d->decoded);
}

/* The frame encodes, and the encoding decodes to the same frame. */
static void round_trip(const espml_frame_t *frame)
{
    size_t raw = frame->payload_length + ESPML_FRAME_OVERHEAD, wire = ESPML_COBS_MAX_ENCODED(raw) + 2;
    uint8_t *scratch = malloc(raw), *out = malloc(wire);
    FUZZ_CHECK(scratch != NULL && out != NULL);
    FUZZ_CHECK(espml_frame_encode(frame, scratch, raw - 1, out, wire) == 0);
    size_t n = espml_frame_encode(frame, scratch, raw, out, wire);
    FUZZ_CHECK(n >= 2 && n <= wire && out[0] == 0 && out[n - 1] == 0 && memchr(out + 1, 0, n - 2) == NULL);
    decoder_t d;
    open_decoder(&d, wire);
    espml_frame_t back;
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        espml_decode_result_t r = espml_decoder_feed(&d.decoder, out[i], &back);
        FUZZ_CHECK(r != ESPML_DECODE_GARBAGE);
        if (r == ESPML_DECODE_FRAME) {
            frames++;
            FUZZ_CHECK(back.version == frame->version && back.type == frame->type && back.flags == frame->flags);
            FUZZ_CHECK(back.seq == frame->seq && back.payload_length == frame->payload_length);
            FUZZ_CHECK(frame->payload_length == 0 || memcmp(back.payload, frame->payload, frame->payload_length) == 0);
        }
    }
    FUZZ_CHECK(frames == 1);
    close_decoder(&d);
    free(scratch);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoder_t big, small;
    open_decoder(&big, ESPML_WIRE_MAX);
    open_decoder(&small, SMALL);
    for (size_t i = 0; i < size; i++) {
        espml_frame_t a, b;
        espml_decode_result_t ra = espml_decoder_feed(&big.decoder, data[i], &a);
        espml_decode_result_t rb = espml_decoder_feed(&small.decoder, data[i], &b);
        FUZZ_CHECK(data[i] == 0 || (ra == ESPML_DECODE_NOTHING && rb == ESPML_DECODE_NOTHING));
        if (ra == ESPML_DECODE_FRAME) {
            FUZZ_CHECK(a.payload_length <= ESPML_WIRE_MAX - ESPML_FRAME_OVERHEAD);
            FUZZ_CHECK(a.payload == big.decoded + ESPML_FRAME_HEADER);
            uint32_t crc = espml_crc32(big.decoded, ESPML_FRAME_HEADER + a.payload_length);
            FUZZ_CHECK(memcmp(&big.decoded[ESPML_FRAME_HEADER + a.payload_length], (uint8_t[4]){
                (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)}, 4) == 0);
            round_trip(&a);
        }
        if (rb == ESPML_DECODE_FRAME) {
            FUZZ_CHECK(ra == ESPML_DECODE_FRAME && b.payload_length == a.payload_length && b.seq == a.seq);
            FUZZ_CHECK(b.payload_length <= SMALL - ESPML_FRAME_OVERHEAD);
        }
    }
    close_decoder(&big);
    close_decoder(&small);
    return 0;
}
