#ifndef VECTORS_TYPES_H
#define VECTORS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int garbage;
    uint8_t version, type, flags;
    uint16_t seq;
    const uint8_t *payload;
    size_t payload_length;
} vector_event_t;

typedef struct {
    const char *name;
    const uint8_t *wire;
    size_t wire_length;
    int event_count;
    const vector_event_t *events;
} protocol_case_t;

typedef struct {
    const char *name;
    const uint8_t *slot;
    size_t length;
    int valid;
    uint32_t sequence, payload_length;
} image_case_t;

#endif
