#include "espml_frame.h"

#include <string.h>

#include "espml_cobs.h"
#include "espml_crc32.h"

size_t espml_frame_encode(const espml_frame_t *frame, uint8_t *scratch, size_t scratch_capacity,
                          uint8_t *out, size_t capacity)
{
    size_t raw_length = ESPML_FRAME_OVERHEAD + frame->payload_length;
    if (scratch_capacity < raw_length || capacity < 2) {
        return 0;
    }
    scratch[0] = frame->version;
    scratch[1] = frame->type;
    scratch[2] = frame->flags;
    scratch[3] = (uint8_t)(frame->seq & 0xFF);
    scratch[4] = (uint8_t)(frame->seq >> 8);
    if (frame->payload_length) {
        memcpy(scratch + ESPML_FRAME_HEADER, frame->payload, frame->payload_length);
    }
    uint32_t crc = espml_crc32(scratch, ESPML_FRAME_HEADER + frame->payload_length);
    for (int i = 0; i < 4; i++) {
        scratch[ESPML_FRAME_HEADER + frame->payload_length + i] = (uint8_t)(crc >> (8 * i));
    }
    out[0] = 0;
    size_t encoded = espml_cobs_encode(scratch, raw_length, out + 1, capacity - 2);
    if (encoded == 0) {
        return 0;
    }
    out[1 + encoded] = 0;
    return encoded + 2;
}

void espml_decoder_init(espml_decoder_t *decoder, uint8_t *buffer, uint8_t *decoded, size_t capacity)
{
    decoder->buffer = buffer;
    decoder->decoded = decoded;
    decoder->capacity = capacity;
    decoder->length = 0;
    decoder->overflowed = 0;
}

static espml_decode_result_t finish_run(espml_decoder_t *decoder, espml_frame_t *frame)
{
    size_t length = decoder->length;
    int overflowed = decoder->overflowed;
    decoder->length = 0;
    decoder->overflowed = 0;
    if (length == 0 && !overflowed) {
        return ESPML_DECODE_NOTHING; /* two delimiters in a row */
    }
    if (overflowed) {
        return ESPML_DECODE_GARBAGE;
    }
    long raw = espml_cobs_decode(decoder->buffer, length, decoder->decoded, decoder->capacity);
    if (raw < ESPML_FRAME_OVERHEAD) {
        return ESPML_DECODE_GARBAGE;
    }
    const uint8_t *d = decoder->decoded;
    size_t body = (size_t)raw - 4;
    uint32_t crc = (uint32_t)d[body] | ((uint32_t)d[body + 1] << 8) | ((uint32_t)d[body + 2] << 16) |
                   ((uint32_t)d[body + 3] << 24);
    if (espml_crc32(d, body) != crc) {
        return ESPML_DECODE_GARBAGE;
    }
    frame->version = d[0];
    frame->type = d[1];
    frame->flags = d[2];
    frame->seq = (uint16_t)(d[3] | (d[4] << 8));
    frame->payload = d + ESPML_FRAME_HEADER;
    frame->payload_length = body - ESPML_FRAME_HEADER;
    return ESPML_DECODE_FRAME;
}

espml_decode_result_t espml_decoder_feed(espml_decoder_t *decoder, uint8_t byte, espml_frame_t *frame)
{
    if (byte == 0) {
        return finish_run(decoder, frame);
    }
    if (decoder->length < decoder->capacity) {
        decoder->buffer[decoder->length++] = byte;
    } else {
        decoder->overflowed = 1; /* keep dropping until the next delimiter */
    }
    return ESPML_DECODE_NOTHING;
}
