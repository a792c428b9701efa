/* The link to the host as a board's USB-Serial/JTAG (or UART) driver makes it: a TX queue that
 * drains only while a host reads. What to do when nobody does, the same on every port:
 *   - every frame is queued with a bounded wait (never blocks for ever);
 *   - a frame that does not fit in time means the host is not reading: the queue (frames nobody
 *     read) is flushed and later frames are dropped, at once, until the host speaks again;
 *   - with no host attached (no USB SOFs: a charger, a cable pulled) frames are dropped, and
 *     what was queued before is flushed when one attaches;
 * so the firmware never stalls behind a host that does not read, and the next host reads no stale
 * frames. The port calls espml_link_write for each whole frame under its TX lock, and
 * espml_link_host_spoke / espml_link_poll from its reader under the same lock. */
#ifndef ESPML_LINK_H
#define ESPML_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* Queue all `length` bytes within `timeout_ms`: 1 when queued, 0 when nothing was (the driver's
     * ring buffer takes a whole write or none of it). */
    int (*send)(void *ctx, const uint8_t *bytes, size_t length, uint32_t timeout_ms);
    int (*attached)(void *ctx); /* a host is on the line (USB SOFs); NULL: always */
    void (*flush)(void *ctx);   /* drop everything queued that the host has not taken */
    void *ctx;
    uint32_t timeout_ms;
    /* state */
    int stalled, was_attached;
    uint32_t frames_sent, frames_dropped, flushes;
} espml_link_t;

void espml_link_init(espml_link_t *link, uint32_t timeout_ms);
void espml_link_write(espml_link_t *link, const uint8_t *bytes, size_t length);
/* Bytes arrived from the host: it reads again, frames flow again. */
void espml_link_host_spoke(espml_link_t *link);
/* Notice a host attaching (flush what it must not read) or leaving, with no frame to send. */
void espml_link_poll(espml_link_t *link);

#ifdef __cplusplus
}
#endif

#endif
