#include "transport.h"

#include <cstdarg>
#include <cstdio>

#include "driver/usb_serial_jtag.h"
#include "espml_cobs.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"

namespace {
constexpr size_t kRaw = kMaxPayload + ESPML_FRAME_OVERHEAD + 16;
constexpr size_t kWire = ESPML_COBS_MAX_ENCODED(kRaw) + 2;
constexpr uint8_t kLog = 0x30;

uint8_t rx_encoded[kWire], rx_decoded[kWire], tx_raw[kRaw], tx_wire[kWire];
espml_decoder_t decoder;
espml_frame_t frame;
SemaphoreHandle_t tx_lock;
uint16_t log_seq;

int log_as_frame(const char *format, va_list args)
{
    char line[200];
    int length = vsnprintf(line + 1, sizeof line - 1, format, args);
    if (length < 0) {
        return length;
    }
    size_t size = (size_t)length < sizeof line - 1 ? (size_t)length : sizeof line - 2;
    while (size && (line[size] == '\n' || line[size] == '\r')) {
        size--;
    }
    line[0] = 2;  // info: the text already carries ESP-IDF's level letter
    transport_send(kLog, ++log_seq, 0, reinterpret_cast<uint8_t *>(line), size + 1);
    return length;
}
}  // namespace

esp_err_t transport_init()
{
    usb_serial_jtag_driver_config_t config = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    config.rx_buffer_size = 8192;
    config.tx_buffer_size = 8192;
    esp_err_t err = usb_serial_jtag_driver_install(&config);
    if (err != ESP_OK) {
        return err;
    }
    tx_lock = xSemaphoreCreateMutex();
    if (tx_lock == nullptr) {
        return ESP_ERR_NO_MEM;
    }
    espml_decoder_init(&decoder, rx_encoded, rx_decoded, sizeof rx_encoded);
    esp_log_set_vprintf(log_as_frame);
    return ESP_OK;
}

const espml_frame_t *transport_receive()
{
    // Bytes read but not yet fed stay here, so a frame's payload is never overwritten before
    // it has been handled.
    static uint8_t chunk[256];
    static int position, available;
    for (;;) {
        while (position < available) {
            if (espml_decoder_feed(&decoder, chunk[position++], &frame) == ESPML_DECODE_FRAME) {
                return &frame;
            }
        }
        available = usb_serial_jtag_read_bytes(chunk, sizeof chunk, portMAX_DELAY);
        position = 0;
    }
}

void transport_send(uint8_t type, uint16_t seq, uint8_t flags, const uint8_t *payload, size_t length)
{
    if (tx_lock == nullptr || xSemaphoreTake(tx_lock, portMAX_DELAY) != pdTRUE) {
        return;
    }
    espml_frame_t out = {ESPML_PROTOCOL_VERSION, type, flags, seq, payload, length};
    size_t size = espml_frame_encode(&out, tx_raw, sizeof tx_raw, tx_wire, sizeof tx_wire);
    if (size) {
        usb_serial_jtag_write_bytes(tx_wire, size, portMAX_DELAY);
    }
    xSemaphoreGive(tx_lock);
}
