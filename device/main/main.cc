// espml firmware: every init step returns a status and is checked; then the protocol loop.
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "inference.h"
#include "model_store.h"
#include "power_sensor.h"
#include "protocol.h"
#include "transport.h"

namespace {
constexpr const char *kTag = "espml";
// The tensor arena: inspect's budget for the esp32s3 board (toolkit/boards/esp32s3.py).
constexpr size_t kArenaBytes = 160 * 1024;

void halt(const char *what, esp_err_t err)
{
    ESP_LOGE(kTag, "%s failed: %s", what, esp_err_to_name(err));
    for (;;) {
        vTaskDelay(portMAX_DELAY);
    }
}
}  // namespace

extern "C" void app_main(void)
{
    esp_err_t err = transport_init();
    if (err != ESP_OK) {
        halt("transport", err);  // nothing can be reported without it
    }
    if ((err = inference_init(kArenaBytes)) != ESP_OK) {
        halt("tensor arena and op resolver", err);
    }
    err = power_sensor_init();
    if (err != ESP_OK && err != ESP_ERR_NOT_FOUND) {
        ESP_LOGW(kTag, "current sensor: %s", esp_err_to_name(err));
    }
    err = model_store_init();  // ESP_ERR_NOT_FOUND: no valid slot yet, the host can upload one
    if (err != ESP_OK && err != ESP_ERR_NOT_FOUND) {
        halt("model partitions", err);
    }
    protocol_start();
    for (;;) {
        protocol_handle(*transport_receive());
    }
}
