// espml firmware for the ESP32-S3: the portable core (device/core) on the ESP-IDF port.
#include "esp_log.h"
#include "espml_esp_idf.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {
constexpr const char *kTag = "espml";
espml_port_t port;
espml_device_t device;  // about 40 KB: static, never on the stack
uint8_t chunk[512];

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
    esp_err_t err = chip_init(&port);
    if (err != ESP_OK) {
        halt("chip", err);
    }
    if ((err = transport_init(&port)) != ESP_OK) {
        halt("transport", err);  // nothing can be reported without it
    }
    if ((err = flash_slots_init(&port)) != ESP_OK) {
        halt("model partitions", err);
    }
    if ((err = inference_init(&port)) != ESP_OK) {
        halt("tensor arena and op resolver", err);
    }
    if ((err = marker_init(&port)) != ESP_OK) {
        halt("inference marker GPIO", err);  // a lab asked for it: energy windows would be missing
    }
    err = power_sensor_init(&port);
    if (err != ESP_OK && err != ESP_ERR_NOT_FOUND) {
        ESP_LOGW(kTag, "current sensor: %s", esp_err_to_name(err));
    }
    espml_device_init(&device, &port);
    transport_route_logs(&device);
    espml_device_boot(&device);
    for (;;) {
        size_t n = transport_read(chunk, sizeof chunk);
        espml_device_feed(&device, chunk, n);
    }
}
