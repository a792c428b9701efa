/* Declaration-only mirror for the link check: only what the port's marker pin uses.
 *   v5.2:        components/driver/gpio/include/driver/gpio.h
 *   v5.3 .. 5.5: components/esp_driver_gpio/include/driver/gpio.h (`driver` re-exports
 *                esp_driver_gpio, so REQUIRES driver covers 5.2-5.5)
 *   gpio_mode_t: components/hal/include/hal/gpio_types.h (GPIO_MODE_DEF_OUTPUT is BIT1);
 *   gpio_num_t: the ESP32-S3's GPIO numbers (GPIO_NUM_NC = -1, GPIO_NUM_0 .. GPIO_NUM_48; hal/
 *   gpio_types.h in v5.2, soc/esp32s3/include/soc/gpio_num.h from v5.3).
 * The three signatures are the same in v5.2 .. v5.5. */
#pragma once

#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GPIO_NUM_NC = -1,
    GPIO_NUM_0 = 0,
    GPIO_NUM_48 = 48,
    GPIO_NUM_MAX,
} gpio_num_t;

typedef enum {
    GPIO_MODE_DISABLE = 0,
    GPIO_MODE_INPUT = 1 << 0,
    GPIO_MODE_OUTPUT = 1 << 1,
} gpio_mode_t;

esp_err_t gpio_reset_pin(gpio_num_t gpio_num);
esp_err_t gpio_set_direction(gpio_num_t gpio_num, gpio_mode_t mode);
esp_err_t gpio_set_level(gpio_num_t gpio_num, uint32_t level);

#ifdef __cplusplus
}
#endif
