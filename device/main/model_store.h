// The two model slots (model_a, model_b): pick the newest verified one; write uploads safely.
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_err.h"
#include "espml_model_image.h"

struct ActiveModel {
    const uint8_t *data = nullptr;  // memory-mapped TFLite bytes
    size_t size = 0;
    uint8_t sha256[32] = {};
    int slot = -1;  // 0 = A, 1 = B, -1 = none
};

esp_err_t model_store_init();
const ActiveModel &model_store_active();
esp_err_t model_store_reload();  // verify both slots again and map the newest valid one

// Upload into the inactive slot: data sectors as they come, the first sector (header) last,
// only after the SHA-256 of everything received matches.
esp_err_t upload_begin(size_t size, const uint8_t sha256[32], int *slot);
esp_err_t upload_data(size_t offset, const uint8_t *data, size_t length);
esp_err_t upload_end(int *slot);
size_t model_slot_size();
