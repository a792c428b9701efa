/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_timer/include/esp_timer.h (v5.2; unchanged in v5.5).
 * Component: esp_timer (not a common requirement: device/main/CMakeLists.txt REQUIRES it). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int64_t esp_timer_get_time(void);

#ifdef __cplusplus
}
#endif
