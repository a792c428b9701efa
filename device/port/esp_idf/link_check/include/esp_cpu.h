/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_hw_support/include/esp_cpu.h (v5.2; unchanged in v5.5).
 * Component: esp_hw_support, a common requirement (tools/cmake/build.cmake requires_common). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t esp_cpu_cycle_count_t;

/* FORCE_INLINE_ATTR (static inline __attribute__((always_inline))) in the real header: on Xtensa it
 * returns xt_utils_get_cycle_count(), itself an inline `rsr.ccount` (components/xtensa/include/
 * xt_utils.h). It references no symbol, so this stand-in body (never run) does not either. */
static inline __attribute__((always_inline)) esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void)
{
    return 0;
}

#ifdef __cplusplus
}
#endif
