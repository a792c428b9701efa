// The inference marker: a GPIO the core holds high through each Invoke() (espml_port_t.marker),
// wired to a power meter's logic input (PPK2 D0, Joulescope IN0) so the meter cuts its trace into
// inference windows. CONFIG_ESPML_MARKER_GPIO = -1 (the default) leaves every pin alone.
#include "driver/gpio.h"
#include "esp_log.h"
#include "espml_esp_idf.h"
#include "sdkconfig.h"

namespace {
constexpr const char *kTag = "espml.marker";
constexpr int kPin = CONFIG_ESPML_MARKER_GPIO;

void set_marker(void *, int high)
{
    gpio_set_level(static_cast<gpio_num_t>(kPin), high ? 1 : 0);  // a few tens of ns: inside the window's error
}
}  // namespace

esp_err_t marker_init(espml_port_t *port)
{
    if (kPin < 0) {
        return ESP_OK;
    }
    const gpio_num_t pin = static_cast<gpio_num_t>(kPin);
    esp_err_t err = gpio_reset_pin(pin);
    if (err == ESP_OK) {
        err = gpio_set_direction(pin, GPIO_MODE_OUTPUT);
    }
    if (err == ESP_OK) {
        err = gpio_set_level(pin, 0);
    }
    if (err != ESP_OK) {
        return err;
    }
    port->marker = set_marker;
    ESP_LOGI(kTag, "inference marker on GPIO%d", kPin);
    return ESP_OK;
}
