#include "espml_link.h"

void espml_link_init(espml_link_t *link, uint32_t timeout_ms)
{
    link->timeout_ms = timeout_ms;
    link->stalled = 0;
    link->was_attached = 1; /* what the boot queued is for whoever is there */
    link->frames_sent = link->frames_dropped = link->flushes = 0;
}

static void flush(espml_link_t *link)
{
    if (link->flush != NULL) {
        link->flush(link->ctx);
        link->flushes++;
    }
}

void espml_link_poll(espml_link_t *link)
{
    int attached = link->attached == NULL || link->attached(link->ctx);
    if (attached && !link->was_attached) {
        flush(link); /* queued before the host left: stale for the one that came */
        link->stalled = 0;
    }
    link->was_attached = attached;
}

void espml_link_write(espml_link_t *link, const uint8_t *bytes, size_t length)
{
    espml_link_poll(link);
    if (!link->was_attached || link->stalled) {
        link->frames_dropped++;
        return;
    }
    if (link->send(link->ctx, bytes, length, link->timeout_ms)) {
        link->frames_sent++;
        return;
    }
    /* Full for timeout_ms: nobody reads. What is queued would reach the next host stale. */
    link->stalled = 1;
    link->frames_dropped++;
    flush(link);
}

void espml_link_host_spoke(espml_link_t *link)
{
    link->stalled = 0;
    link->was_attached = 1;
}
