/* The two model slots over the port's flash: verify, pick, and write an upload safely (data
 * sectors as they come, the header sector last, only after the SHA-256 of what is in flash
 * matches), so a cut at any moment leaves the old model in charge (docs/model_image.md). */
#ifndef ESPML_STORE_H
#define ESPML_STORE_H

#include <stdint.h>

#include "espml_model_image.h"
#include "espml_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const espml_port_t *port;
    espml_image_header_t header[2];
    int valid[2];             /* 1 when the slot held a verified image when last checked */
    const uint8_t *view[2];   /* the mapped slot, NULL when not mapped */
    struct {
        int open, slot;
        uint32_t size, received;
        uint32_t erased_to;   /* image bytes [0, erased_to) of the slot are erased */
        uint8_t sha256[32];
        uint8_t first_sector[ESPML_SECTOR]; /* header and model head: written last */
    } upload;
} espml_store_t;

void espml_store_init(espml_store_t *store, const espml_port_t *port);

/* Verify slot `slot` in place, leaving it mapped. Returns ESPML_OK and the TFLite bytes, or an error. */
int espml_store_verify(espml_store_t *store, int slot, const uint8_t **model);
void espml_store_release(espml_store_t *store, int slot);

/* Of the valid slots, the newest first: writes up to two slot indices into order, returns the count. */
int espml_store_order(const espml_store_t *store, int order[2]);

/* An upload into `slot` (never the running one). A MODEL_BEGIN repeated for the same model keeps
 * what has arrived; MODEL_DATA below what has arrived is a retry and is acknowledged unwritten. */
int espml_store_begin(espml_store_t *store, int slot, uint32_t size, const uint8_t sha256[32]);
int espml_store_data(espml_store_t *store, uint32_t offset, const uint8_t *data, uint32_t length);
/* Checks the SHA-256 of the bytes in flash and writes the header. Returns ESPML_OK and the slot. */
int espml_store_finish(espml_store_t *store, int *slot);

/* Erase a slot's header sector, so it no longer counts. */
int espml_store_invalidate(espml_store_t *store, int slot);

#ifdef __cplusplus
}
#endif

#endif
