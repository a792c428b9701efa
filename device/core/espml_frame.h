/* Frames of the espml wire protocol, version 1 (docs/protocol.md):
 *   raw   = version u8 | type u8 | flags u8 | seq u16 (LE) | payload | crc32 u32 (LE)
 *   wire  = 0x00 | COBS(raw) | 0x00
 * The decoder takes bytes one at a time and resynchronises on the next 0x00 after anything
 * that is not a frame (boot text, noise, a torn frame). */
#ifndef ESPML_FRAME_H
#define ESPML_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESPML_PROTOCOL_VERSION 1
#define ESPML_FRAME_HEADER 5
#define ESPML_FRAME_OVERHEAD 9 /* header + CRC */
#define ESPML_FLAG_RESPONSE 0x01

typedef struct {
    uint8_t version;
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
    const uint8_t *payload; /* points into the decoder's buffer: valid until the next byte is fed */
    size_t payload_length;
} espml_frame_t;

/* Encode a frame into `out`; returns the wire length, or 0 if `capacity` is too small. */
size_t espml_frame_encode(const espml_frame_t *frame, uint8_t *scratch, size_t scratch_capacity,
                          uint8_t *out, size_t capacity);

typedef enum {
    ESPML_DECODE_NOTHING = 0, /* need more bytes */
    ESPML_DECODE_FRAME = 1,   /* *frame is valid */
    ESPML_DECODE_GARBAGE = 2, /* a run between delimiters was not a frame: dropped */
} espml_decode_result_t;

typedef struct {
    uint8_t *buffer;   /* encoded bytes of the run in progress */
    size_t capacity;
    size_t length;
    uint8_t *decoded;  /* COBS output, at least `capacity` bytes */
    int overflowed;
} espml_decoder_t;

void espml_decoder_init(espml_decoder_t *decoder, uint8_t *buffer, uint8_t *decoded, size_t capacity);
espml_decode_result_t espml_decoder_feed(espml_decoder_t *decoder, uint8_t byte, espml_frame_t *frame);

#ifdef __cplusplus
}
#endif

#endif
