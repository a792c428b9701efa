#include "esp_app_desc.h"
#include "esp_chip_info.h"
#include "esp_heap_caps.h"
#include "esp_rom_sys.h"
#include "esp_system.h"
#include "espml_esp_idf.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {
// Modules with 8 MB of octal PSRAM (R8): the esp32s3-r8 board. The heap sees a little less than 8 MB.
constexpr size_t kOctalPsram = 6 * 1024 * 1024;

void memory(void *, espml_memory_t *m)
{
    m->heap_free = heap_caps_get_free_size(MALLOC_CAP_INTERNAL);
    m->heap_free_min = heap_caps_get_minimum_free_size(MALLOC_CAP_INTERNAL);
    m->psram_free = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    m->stack_high_water = uxTaskGetStackHighWaterMark(nullptr);  // bytes: ESP-IDF's StackType_t is one byte
}

void restart(void *)
{
    vTaskDelay(pdMS_TO_TICKS(20));  // let the answer leave before the chip restarts
    esp_restart();
}
}  // namespace

esp_err_t chip_init(espml_port_t *port)
{
    esp_chip_info_t info;
    esp_chip_info(&info);
    if (info.model != CHIP_ESP32S3) {
        return ESP_ERR_NOT_SUPPORTED;
    }
    const esp_app_desc_t *app = esp_app_get_description();
    port->board = heap_caps_get_total_size(MALLOC_CAP_SPIRAM) >= kOctalPsram ? "esp32s3-r8" : "esp32s3";
    port->cpu_mhz = static_cast<uint16_t>(esp_rom_get_cpu_ticks_per_us());
    port->simulated = 0;
    port->firmware_name = app->project_name;
    port->firmware_version = app->version;
    port->memory = memory;
    port->restart = restart;
    return ESP_OK;
}
