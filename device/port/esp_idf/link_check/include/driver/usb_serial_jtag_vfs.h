/* Declaration-only mirror for the link check:
 * components/esp_driver_usb_serial_jtag/include/driver/usb_serial_jtag_vfs.h (v5.3 .. v5.5; no
 * such header in v5.2, where esp_vfs_usb_serial_jtag.h has these as esp_vfs_usb_serial_jtag_*). */
#pragma once

#include "sdkconfig.h"

#if LINK_CHECK_IDF_MINOR < 3
#error "driver/usb_serial_jtag_vfs.h exists from ESP-IDF v5.3 (v5.2: esp_vfs_usb_serial_jtag.h)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

void usb_serial_jtag_vfs_use_driver(void);

void usb_serial_jtag_vfs_use_nonblocking(void);

#ifdef __cplusplus
}
#endif
