#define _DEFAULT_SOURCE
#include "espml_host.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct espml_host_flash {
    uint8_t *data;
    uint32_t size;
    int fd;           /* -1: anonymous memory */
    int64_t cut_after;
    int powered;
};

espml_host_flash_t *espml_host_flash_open(const char *path, uint32_t size)
{
    espml_host_flash_t *flash = calloc(1, sizeof *flash);
    if (flash == NULL) {
        return NULL;
    }
    flash->size = size;
    flash->fd = -1;
    flash->cut_after = -1;
    flash->powered = 1;
    if (path == NULL) {
        flash->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (flash->data == MAP_FAILED) {
            free(flash);
            return NULL;
        }
        memset(flash->data, 0xFF, size);
        return flash;
    }
    struct stat st;
    flash->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (flash->fd < 0 || fstat(flash->fd, &st) != 0) {
        goto fail;
    }
    uint8_t erased[ESPML_SECTOR];
    memset(erased, 0xFF, sizeof erased);
    for (off_t at = st.st_size; at < (off_t)size;) { /* erased flash reads 0xFF, never zeros */
        size_t n = (size_t)((off_t)size - at) < sizeof erased ? (size_t)((off_t)size - at) : sizeof erased;
        if (pwrite(flash->fd, erased, n, at) != (ssize_t)n) {
            goto fail;
        }
        at += (off_t)n;
    }
    flash->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, flash->fd, 0);
    if (flash->data == MAP_FAILED) {
        goto fail;
    }
    return flash;
fail:
    if (flash->fd >= 0) {
        close(flash->fd);
    }
    free(flash);
    return NULL;
}

void espml_host_flash_close(espml_host_flash_t *flash)
{
    if (flash == NULL) {
        return;
    }
    espml_host_flash_sync(flash);
    munmap(flash->data, flash->size);
    if (flash->fd >= 0) {
        close(flash->fd);
    }
    free(flash);
}

uint8_t *espml_host_flash_data(espml_host_flash_t *flash) { return flash->data; }

static int in_range(const espml_host_flash_t *flash, uint32_t offset, uint32_t length)
{
    return offset <= flash->size && length <= flash->size - offset;
}

int espml_host_flash_erase(espml_host_flash_t *flash, uint32_t offset, uint32_t length)
{
    uint32_t start = offset - offset % ESPML_SECTOR;
    uint64_t end = ((uint64_t)offset + length + ESPML_SECTOR - 1) / ESPML_SECTOR * ESPML_SECTOR;
    end = end > flash->size ? flash->size : end;
    if (!in_range(flash, offset, length)) {
        return ESPML_FLASH_RANGE;
    }
    if (!flash->powered) {
        return ESPML_FLASH_POWER_CUT;
    }
    memset(flash->data + start, 0xFF, (size_t)(end - start));
    return ESPML_FLASH_OK;
}

int espml_host_flash_program(espml_host_flash_t *flash, uint32_t offset, const uint8_t *data, uint32_t length)
{
    if (!in_range(flash, offset, length)) {
        return ESPML_FLASH_RANGE;
    }
    if (!flash->powered) {
        return ESPML_FLASH_POWER_CUT;
    }
    uint32_t n = length;
    if (flash->cut_after >= 0 && (int64_t)length > flash->cut_after) {
        n = (uint32_t)flash->cut_after;
    }
    for (uint32_t i = 0; i < n; i++) {
        flash->data[offset + i] &= data[i]; /* NOR: programming only clears bits */
    }
    if (flash->cut_after >= 0) {
        flash->cut_after -= n;
    }
    if (n < length) {
        flash->powered = 0; /* the supply failed part-way through this write */
        return ESPML_FLASH_POWER_CUT;
    }
    return ESPML_FLASH_OK;
}

void espml_host_flash_cut_after(espml_host_flash_t *flash, int64_t bytes) { flash->cut_after = bytes < 0 ? -1 : bytes; }

void espml_host_flash_power_on(espml_host_flash_t *flash)
{
    flash->cut_after = -1;
    flash->powered = 1;
}

int espml_host_flash_powered(const espml_host_flash_t *flash) { return flash->powered; }

int espml_host_flash_sync(espml_host_flash_t *flash)
{
    if (flash->fd < 0) {
        return ESPML_FLASH_OK;
    }
    return msync(flash->data, flash->size, MS_SYNC) == 0 ? ESPML_FLASH_OK : ESPML_FLASH_IO;
}

/* --- the firmware on the host --------------------------------------------------------------- */
struct espml_host_device {
    espml_device_t device;
    espml_port_t *port;
    espml_host_flash_t *flash;
    uint32_t slot_offset[2];
    int mapped[2]; /* flash is always readable here; this is what the firmware asked for */
    espml_link_t link;
};

/* The port's ctx is the host device: the virtual board's callbacks are closures and ignore it. */
static int slot_erase(void *ctx, int slot, uint32_t offset, uint32_t length)
{
    espml_host_device_t *host = ctx;
    if (offset > host->port->slot_size || length > host->port->slot_size - offset) {
        return ESPML_FLASH_RANGE;
    }
    return espml_host_flash_erase(host->flash, host->slot_offset[slot] + offset, length);
}

static int slot_write(void *ctx, int slot, uint32_t offset, const uint8_t *data, uint32_t length)
{
    espml_host_device_t *host = ctx;
    if (offset > host->port->slot_size || length > host->port->slot_size - offset) {
        return ESPML_FLASH_RANGE;
    }
    return espml_host_flash_program(host->flash, host->slot_offset[slot] + offset, data, length);
}

static const uint8_t *slot_map(void *ctx, int slot)
{
    espml_host_device_t *host = ctx;
    host->mapped[slot] = 1;
    return host->flash->data + host->slot_offset[slot];
}

static void slot_unmap(void *ctx, int slot)
{
    espml_host_device_t *host = ctx;
    host->mapped[slot] = 0;
}

espml_host_device_t *espml_host_device_new(espml_port_t *port, espml_host_flash_t *flash, const uint32_t slot_offset[2])
{
    for (int i = 0; i < 2; i++) {
        if (!in_range(flash, slot_offset[i], port->slot_size)) {
            return NULL;
        }
    }
    espml_host_device_t *host = calloc(1, sizeof *host);
    if (host == NULL) {
        return NULL;
    }
    host->port = port;
    host->flash = flash;
    memcpy(host->slot_offset, slot_offset, sizeof host->slot_offset);
    port->ctx = host;
    port->flash_erase = slot_erase;
    port->flash_write = slot_write;
    port->flash_map = slot_map;
    port->flash_unmap = slot_unmap;
    espml_device_init(&host->device, port);
    return host;
}

void espml_host_device_free(espml_host_device_t *host) { free(host); }

espml_device_t *espml_host_device_core(espml_host_device_t *host) { return &host->device; }

void espml_host_device_log(espml_host_device_t *host, int level, const char *text)
{
    espml_device_log(&host->device, level, "%s", text);
}

int espml_host_device_mapped(const espml_host_device_t *host, const uint8_t *address)
{
    for (int slot = 0; slot < 2; slot++) {
        const uint8_t *base = host->flash->data + host->slot_offset[slot];
        if (address >= base && address < base + host->port->slot_size) {
            return host->mapped[slot];
        }
    }
    return 0;
}

static void link_write(void *ctx, const uint8_t *bytes, size_t length)
{
    espml_host_device_t *host = ctx;
    espml_link_write(&host->link, bytes, length);
}

void espml_host_device_set_link(espml_host_device_t *host,
                                int (*send)(void *ctx, const uint8_t *bytes, size_t length, uint32_t timeout_ms),
                                int (*attached)(void *ctx), void (*flush)(void *ctx), uint32_t timeout_ms)
{
    espml_link_init(&host->link, timeout_ms);
    host->link.send = send;
    host->link.attached = attached;
    host->link.flush = flush;
    host->link.ctx = host;
    host->port->write = link_write;
}

void espml_host_device_host_spoke(espml_host_device_t *host) { espml_link_host_spoke(&host->link); }

void espml_host_device_poll(espml_host_device_t *host) { espml_link_poll(&host->link); }

void espml_host_device_link_counts(const espml_host_device_t *host, uint32_t counts[3])
{
    counts[0] = host->link.frames_sent;
    counts[1] = host->link.frames_dropped;
    counts[2] = host->link.flushes;
}

size_t espml_host_port_size(void) { return sizeof(espml_port_t); }

size_t espml_host_port_restart_offset(void) { return offsetof(espml_port_t, restart); }
