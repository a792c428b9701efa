/* Declaration-only mirror for the link check: components/vfs/include/esp_vfs_usb_serial_jtag.h.
 * v5.2: the console VFS of USB-Serial/JTAG switched to the driver (writes through its TX ring
 * buffer) or back to writing the FIFO directly. v5.3 moved these to
 * esp_driver_usb_serial_jtag's driver/usb_serial_jtag_vfs.h as usb_serial_jtag_vfs_use_*() and
 * kept these names deprecated, which -Werror turns into a failure. Component: vfs. */
#pragma once

#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

#if LINK_CHECK_IDF_MINOR >= 3
#define ESPML_LINK_CHECK_DEPRECATED __attribute__((deprecated("use usb_serial_jtag_vfs_use_driver/_nonblocking (driver/usb_serial_jtag_vfs.h)")))
#else
#define ESPML_LINK_CHECK_DEPRECATED
#endif

ESPML_LINK_CHECK_DEPRECATED void esp_vfs_usb_serial_jtag_use_driver(void);

ESPML_LINK_CHECK_DEPRECATED void esp_vfs_usb_serial_jtag_use_nonblocking(void);

#ifdef __cplusplus
}
#endif
