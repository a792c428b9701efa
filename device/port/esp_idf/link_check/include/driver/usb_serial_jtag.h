/* Declaration-only mirror for the link check: only what the port uses.
 * components/driver/usb_serial_jtag/include/driver/usb_serial_jtag.h (v5.2);
 * components/esp_driver_usb_serial_jtag/include/driver/usb_serial_jtag.h (v5.3 .. v5.5: same
 * declarations; v5.3.x/v5.4 add usb_serial_jtag_is_driver_installed, v5.4 usb_serial_jtag_wait_tx_done).
 * Component: `driver` in v5.2; from v5.3 `driver` keeps a public dependency on
 * esp_driver_usb_serial_jtag (components/driver/CMakeLists.txt), so REQUIRES driver covers 5.2-5.5. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t tx_buffer_size;
    uint32_t rx_buffer_size;
} usb_serial_jtag_driver_config_t;

/* A compound literal with designated initialisers (GNU extension in C++). */
#define USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT() (usb_serial_jtag_driver_config_t) {\
    .tx_buffer_size = 256,\
    .rx_buffer_size = 256,\
}

esp_err_t usb_serial_jtag_driver_install(usb_serial_jtag_driver_config_t *usb_serial_jtag_config);

int usb_serial_jtag_read_bytes(void *buf, uint32_t length, TickType_t ticks_to_wait);

/* Returns `size` when all of it went into the TX ring buffer (xRingbufferSend takes a whole item
 * or nothing), 0 when it did not fit within ticks_to_wait. */
int usb_serial_jtag_write_bytes(const void *src, size_t size, TickType_t ticks_to_wait);

/* Frees both ring buffers (what they held is gone) and the interrupt. */
esp_err_t usb_serial_jtag_driver_uninstall(void);

/* True while SOF packets arrive from a host, whether or not a program has the port open; never
 * on a charger (v5.2 .. v5.5: usb_serial_jtag_connection_monitor.c). */
bool usb_serial_jtag_is_connected(void);

#ifdef __cplusplus
}
#endif
