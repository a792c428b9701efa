#include <cstdarg>
#include <cstdio>

#include "driver/usb_serial_jtag.h"
#include "esp_log.h"
#include "espml_esp_idf.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"

namespace {
espml_device_t *routed;
SemaphoreHandle_t tx_lock;  // recursive: a log line can be produced while a frame is being sent

void write_bytes(void *, const uint8_t *bytes, size_t length)
{
    usb_serial_jtag_write_bytes(bytes, length, portMAX_DELAY);
}

void lock(void *) { xSemaphoreTakeRecursive(tx_lock, portMAX_DELAY); }
void unlock(void *) { xSemaphoreGiveRecursive(tx_lock); }

int log_as_frame(const char *format, va_list args)
{
    // ESP-IDF formats its own level letter and tag into the line; level info carries it.
    espml_device_vlog(routed, ESPML_LOG_INFO, format, args);
    return 0;
}

// stdout and stderr of the protocol task (where TFLite-Micro's DebugLog writes with
// vfprintf(stderr, ...)) go to the device log instead of raw text on the protocol's port.
ssize_t debug_write(void *, const char *text, size_t length)
{
    espml_device_debug_write(routed, text, length);
    return static_cast<ssize_t>(length);
}
}  // namespace

esp_err_t transport_init(espml_port_t *port)
{
    usb_serial_jtag_driver_config_t config = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    config.rx_buffer_size = 8192;
    config.tx_buffer_size = 8192;
    esp_err_t err = usb_serial_jtag_driver_install(&config);
    if (err != ESP_OK) {
        return err;
    }
    tx_lock = xSemaphoreCreateRecursiveMutex();
    if (tx_lock == nullptr) {
        return ESP_ERR_NO_MEM;
    }
    port->write = write_bytes;
    port->lock = lock;
    port->unlock = unlock;
    return ESP_OK;
}

void transport_route_logs(espml_device_t *device)
{
    routed = device;
    esp_log_set_vprintf(log_as_frame);
    cookie_io_functions_t functions = {};
    functions.write = debug_write;
    FILE *log_stream = fopencookie(nullptr, "w", functions);
    if (log_stream != nullptr) {
        setvbuf(log_stream, nullptr, _IONBF, 0);  // the core gathers lines itself
        stdout = log_stream;
        stderr = log_stream;
    } else {
        ESP_LOGW("espml", "stdout and stderr stay on the console: fopencookie failed");
    }
}

size_t transport_read(uint8_t *buffer, size_t capacity)
{
    int n = usb_serial_jtag_read_bytes(buffer, capacity, portMAX_DELAY);
    return n > 0 ? static_cast<size_t>(n) : 0;
}
