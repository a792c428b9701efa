#include "espml_store.h"

#include <string.h>

#include "espml_crc32.h"
#include "espml_sha256.h"

#define HEADER_CRC_OFFSET 120

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

void espml_store_init(espml_store_t *store, const espml_port_t *port)
{
    memset(store, 0, sizeof *store);
    store->port = port;
    store->upload.slot = -1;
}

static const uint8_t *map(espml_store_t *store, int slot)
{
    if (store->view[slot] == NULL) {
        store->view[slot] = store->port->flash_map(store->port->ctx, slot);
    }
    return store->view[slot];
}

void espml_store_release(espml_store_t *store, int slot)
{
    if (store->view[slot] != NULL) {
        store->port->flash_unmap(store->port->ctx, slot);
        store->view[slot] = NULL;
    }
}

int espml_store_verify(espml_store_t *store, int slot, const uint8_t **model)
{
    const uint8_t *view = map(store, slot);
    store->valid[slot] = view != NULL && espml_image_verify(view, store->port->slot_size, espml_sha256,
                                                            &store->header[slot], model) == 0;
    return store->valid[slot] ? ESPML_OK : ESPML_ERR_MODEL_INVALID;
}

int espml_store_order(const espml_store_t *store, int order[2])
{
    int count = 0;
    int newer = espml_image_choose(!store->valid[0], &store->header[0], !store->valid[1], &store->header[1]) == 1;
    for (int i = 0; i < 2; i++) {
        int slot = i == 0 ? newer : !newer;
        if (store->valid[slot]) {
            order[count++] = slot;
        }
    }
    return count;
}

int espml_store_begin(espml_store_t *store, int slot, uint32_t size, const uint8_t sha256[32])
{
    const espml_port_t *port = store->port;
    if (size == 0 || size > port->slot_size - ESPML_IMAGE_HEADER_SIZE) {
        return ESPML_ERR_MODEL_TOO_LARGE;
    }
    if (store->upload.open && store->upload.slot == slot && store->upload.size == size &&
        memcmp(store->upload.sha256, sha256, 32) == 0) {
        return ESPML_OK; /* the same upload again: the bytes that arrived are the same bytes */
    }
    espml_store_release(store, slot);
    store->valid[slot] = 0;
    store->upload.open = 0;
    /* Only the header sector now (milliseconds): the slot stops counting at once. The data sectors
     * are erased as the data reaches them, so no request waits for a whole slot to erase. */
    if (port->flash_erase(port->ctx, slot, 0, ESPML_SECTOR) != 0) {
        return ESPML_ERR_FLASH_WRITE;
    }
    store->upload.open = 1;
    store->upload.slot = slot;
    store->upload.size = size;
    store->upload.received = 0;
    store->upload.erased_to = ESPML_SECTOR;
    memcpy(store->upload.sha256, sha256, 32);
    memset(store->upload.first_sector, 0xFF, sizeof store->upload.first_sector);
    return ESPML_OK;
}

static int erase_through(espml_store_t *store, uint32_t end)
{
    const espml_port_t *port = store->port;
    if (end <= store->upload.erased_to) {
        return ESPML_OK;
    }
    uint32_t to = (end + ESPML_SECTOR - 1) / ESPML_SECTOR * ESPML_SECTOR;
    if (port->flash_erase(port->ctx, store->upload.slot, store->upload.erased_to, to - store->upload.erased_to) != 0) {
        return ESPML_ERR_FLASH_WRITE;
    }
    store->upload.erased_to = to;
    return ESPML_OK;
}

int espml_store_data(espml_store_t *store, uint32_t offset, const uint8_t *data, uint32_t length)
{
    const espml_port_t *port = store->port;
    if (!store->upload.open || offset > store->upload.received) {
        return ESPML_ERR_UPLOAD_STATE;
    }
    if (length > store->upload.size || offset > store->upload.size - length) {
        return ESPML_ERR_BAD_PAYLOAD;
    }
    uint32_t skip = store->upload.received - offset; /* a retried chunk: already stored */
    if (skip >= length) {
        return ESPML_OK;
    }
    data += skip, length -= skip;
    uint32_t at = ESPML_IMAGE_HEADER_SIZE + store->upload.received;
    if (at < ESPML_SECTOR) {
        uint32_t n = length < ESPML_SECTOR - at ? length : ESPML_SECTOR - at;
        memcpy(store->upload.first_sector + at, data, n);
        at += n, data += n, length -= n, store->upload.received += n;
    }
    if (length == 0) {
        return ESPML_OK;
    }
    int err = erase_through(store, at + length);
    if (err == ESPML_OK && port->flash_write(port->ctx, store->upload.slot, at, data, length) != 0) {
        err = ESPML_ERR_FLASH_WRITE;
    }
    if (err == ESPML_OK) {
        store->upload.received += length;
    }
    return err;
}

/* docs/model_image.md: the header for the uploaded model. Its tensor summaries stay zero (rank 0,
 * not recorded): espml flash fills them, an upload does not need them. */
static void build_header(espml_store_t *store, uint32_t sequence)
{
    uint8_t *header = store->upload.first_sector;
    memset(header, 0, ESPML_IMAGE_HEADER_SIZE);
    memcpy(header, "EMLI", 4);
    header[4] = ESPML_IMAGE_FORMAT_VERSION;
    header[6] = ESPML_IMAGE_HEADER_SIZE & 0xFF;
    header[7] = ESPML_IMAGE_HEADER_SIZE >> 8;
    put32(header + 8, store->upload.size);
    put32(header + 12, sequence);
    memcpy(header + 16, store->upload.sha256, 32);
    put32(header + HEADER_CRC_OFFSET, espml_crc32(header, HEADER_CRC_OFFSET));
}

int espml_store_finish(espml_store_t *store, int *slot)
{
    const espml_port_t *port = store->port;
    if (!store->upload.open) {
        return ESPML_ERR_UPLOAD_STATE;
    }
    store->upload.open = 0;
    int index = store->upload.slot;
    uint32_t size = store->upload.size;
    if (store->upload.received != size) {
        return ESPML_ERR_MODEL_INVALID;
    }
    /* Hash what flash holds, not what was received: a failed write shows here. */
    const uint8_t *view = map(store, index);
    if (view == NULL) {
        return ESPML_ERR_FLASH_WRITE;
    }
    uint32_t image = ESPML_IMAGE_HEADER_SIZE + size;
    uint32_t head = image < ESPML_SECTOR ? image : ESPML_SECTOR;
    uint8_t digest[32];
    espml_sha256_t sha;
    espml_sha256_start(&sha);
    espml_sha256_update(&sha, store->upload.first_sector + ESPML_IMAGE_HEADER_SIZE, head - ESPML_IMAGE_HEADER_SIZE);
    if (image > ESPML_SECTOR) {
        espml_sha256_update(&sha, view + ESPML_SECTOR, image - ESPML_SECTOR);
    }
    espml_sha256_finish(&sha, digest);
    if (memcmp(digest, store->upload.sha256, 32) != 0) {
        return ESPML_ERR_MODEL_INVALID; /* no header: the slot does not count */
    }
    int other = 1 - index;
    build_header(store, store->valid[other] ? store->header[other].sequence + 1 : 1);
    espml_store_release(store, index); /* map again after the write: a fresh view */
    if (port->flash_write(port->ctx, index, 0, store->upload.first_sector, head) != 0) {
        return ESPML_ERR_FLASH_WRITE;
    }
    *slot = index;
    return ESPML_OK;
}

int espml_store_invalidate(espml_store_t *store, int slot)
{
    espml_store_release(store, slot);
    store->valid[slot] = 0;
    return store->port->flash_erase(store->port->ctx, slot, 0, ESPML_SECTOR) == 0 ? ESPML_OK : ESPML_ERR_FLASH_WRITE;
}
