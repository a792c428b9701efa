/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_common/include/esp_err.h (v5.2; unchanged in v5.5) */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef int esp_err_t;

#define ESP_OK          0
#define ESP_FAIL        -1

#define ESP_ERR_NO_MEM              0x101
#define ESP_ERR_NOT_FOUND           0x105
#define ESP_ERR_NOT_SUPPORTED       0x106
#define ESP_ERR_NOT_FINISHED        0x10C

const char *esp_err_to_name(esp_err_t code);

#ifdef __cplusplus
}
#endif
