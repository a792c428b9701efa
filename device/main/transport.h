// Frames over the USB-Serial/JTAG port; ESP-IDF log lines travel as LOG frames.
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_err.h"
#include "espml_frame.h"

constexpr size_t kMaxPayload = 4096;  // announced in INFO: the host never sends more

esp_err_t transport_init();
// Blocks until a frame arrives; garbage between frames is dropped.
const espml_frame_t *transport_receive();
void transport_send(uint8_t type, uint16_t seq, uint8_t flags, const uint8_t *payload, size_t length);
