/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_system/include/esp_system.h (v5.2; unchanged in v5.5).
 * Component: esp_system, a common requirement (tools/cmake/build.cmake requires_common). */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

void esp_restart(void) __attribute__((__noreturn__));

#ifdef __cplusplus
}
#endif
