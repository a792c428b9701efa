/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_rom/include/esp_rom_sys.h (v5.2; same declaration in v5.3, v5.4, v5.5).
 * Component esp_rom: a common requirement of every component (tools/cmake/build.cmake,
 * requires_common), so main/CMakeLists.txt need not list it. On the ESP32-S3 the symbol is a ROM
 * function: components/esp_rom/esp32s3/ld/esp32s3.rom.api.ld
 * PROVIDE ( esp_rom_get_cpu_ticks_per_us = ets_get_cpu_frequency ). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t esp_rom_get_cpu_ticks_per_us(void);

#ifdef __cplusplus
}
#endif
