// The ESP-IDF port of the espml firmware: each part fills its share of the espml_port_t the core
// runs on. Every init returns a status and app_main checks it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_err.h"
#include "espml_device.h"
#include "espml_port.h"

// USB-Serial/JTAG or UART0 (Kconfig): frames out through the core's link policy (bounded
// writes), bytes in; ESP-IDF log lines and stdout/stderr (TFLite-Micro's DebugLog) become LOG
// frames of `device`, other tasks' printf goes through the driver. transport_read waits at most
// one read slice (50 ms) and may return 0.
esp_err_t transport_init(espml_port_t *port);
void transport_route_logs(espml_device_t *device);
size_t transport_read(uint8_t *buffer, size_t capacity);

// The model_a / model_b partitions (device/partitions.csv).
esp_err_t flash_slots_init(espml_port_t *port);

// TFLite-Micro with the ops of device/ops.txt; the arena in internal RAM, or PSRAM on boards with it.
esp_err_t inference_init(espml_port_t *port);

// INA219 / INA226 on I2C, when one answers (ESP_ERR_NOT_FOUND otherwise: not an error for the app).
esp_err_t power_sensor_init(espml_port_t *port);

// The inference marker GPIO (CONFIG_ESPML_MARKER_GPIO; -1: none, and nothing is touched).
esp_err_t marker_init(espml_port_t *port);

// What the chip is, its heap and stack, and restarting it.
esp_err_t chip_init(espml_port_t *port);
