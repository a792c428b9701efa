/* The host port: what the virtual ESP32-S3 runs. A file-backed SPI NOR flash (erase sets 0xFF a
 * sector at a time, programming ANDs bits, a power cut can be armed), the model slots on it, and
 * the device core; the transport, inference and chip figures are callbacks the virtual board
 * supplies in the espml_port_t it hands to espml_host_device_new(). */
#ifndef ESPML_HOST_H
#define ESPML_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "espml_device.h"
#include "espml_link.h"
#include "espml_port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ESPML_FLASH_OK = 0, ESPML_FLASH_RANGE = -1, ESPML_FLASH_POWER_CUT = -2, ESPML_FLASH_IO = -3 };

typedef struct espml_host_flash espml_host_flash_t;

/* `path` NULL: in memory. A new or short file is filled with 0xFF (erased). NULL on failure. */
espml_host_flash_t *espml_host_flash_open(const char *path, uint32_t size);
void espml_host_flash_close(espml_host_flash_t *flash);
uint8_t *espml_host_flash_data(espml_host_flash_t *flash);
int espml_host_flash_erase(espml_host_flash_t *flash, uint32_t offset, uint32_t length);
int espml_host_flash_program(espml_host_flash_t *flash, uint32_t offset, const uint8_t *data, uint32_t length);
/* After `bytes` more programmed bytes the supply fails: the write stops there and every later
 * erase or program fails until espml_host_flash_power_on(). Negative: never. */
void espml_host_flash_cut_after(espml_host_flash_t *flash, int64_t bytes);
void espml_host_flash_power_on(espml_host_flash_t *flash);
int espml_host_flash_powered(const espml_host_flash_t *flash);
int espml_host_flash_sync(espml_host_flash_t *flash);

/* The firmware on the host: `port` (kept by pointer, owned by the caller) gets its ctx and flash
 * functions filled in, over the model slots at `slot_offset`. Returns NULL on failure. */
typedef struct espml_host_device espml_host_device_t;
espml_host_device_t *espml_host_device_new(espml_port_t *port, espml_host_flash_t *flash, const uint32_t slot_offset[2]);
void espml_host_device_free(espml_host_device_t *host);
espml_device_t *espml_host_device_core(espml_host_device_t *host);
/* Text to the device log (the host port's stand-in for ESP-IDF's log and TFLM's DebugLog). */
void espml_host_device_log(espml_host_device_t *host, int level, const char *text);

/* The link as the chip's USB-Serial/JTAG driver makes it (core/espml_link.h): from here on the
 * firmware's frames go through the link policy to `send` (the virtual board's model of the
 * driver's TX ring buffer and a host that may not read) instead of port->write. */
void espml_host_device_set_link(espml_host_device_t *host,
                                int (*send)(void *ctx, const uint8_t *bytes, size_t length, uint32_t timeout_ms),
                                int (*attached)(void *ctx), void (*flush)(void *ctx), uint32_t timeout_ms);
/* Bytes from the host are about to be fed; the host attached or left. */
void espml_host_device_host_spoke(espml_host_device_t *host);
void espml_host_device_poll(espml_host_device_t *host);
/* Frames sent, dropped, and flushes of the queue since boot. */
void espml_host_device_link_counts(const espml_host_device_t *host, uint32_t counts[3]);

/* Whether the firmware holds a mapping of the slot that `address` lies in. A chip reading flash
 * through a mapping it released would read garbage or fault: the virtual chip checks this. */
int espml_host_device_mapped(const espml_host_device_t *host, const uint8_t *address);

/* sizeof(espml_port_t) and offsetof its last member: the loader checks its mirror against these. */
size_t espml_host_port_size(void);
size_t espml_host_port_restart_offset(void);

#ifdef __cplusplus
}
#endif

#endif
