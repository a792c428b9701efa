/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_hw_support/include/esp_chip_info.h (v5.2; unchanged for these in v5.5).
 * Component: esp_hw_support, a common requirement (tools/cmake/build.cmake requires_common). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CHIP_ESP32S3 = 9,
} esp_chip_model_t;

typedef struct {
    esp_chip_model_t model;
    uint32_t features;
    uint16_t revision;
    uint8_t cores;
} esp_chip_info_t;

void esp_chip_info(esp_chip_info_t *out_info);

#ifdef __cplusplus
}
#endif
