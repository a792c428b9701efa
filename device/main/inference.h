// The model in TFLite-Micro: one interpreter over the active slot, its arena allocated once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_err.h"

struct InvokeTiming {
    uint32_t latency_us;
    uint64_t cycles;
};

enum class LoadResult { kOk, kNoModel, kBadModel, kUnsupportedOp, kArenaTooSmall };

esp_err_t inference_init(size_t arena_bytes);
LoadResult inference_load(const uint8_t *model, size_t size, char *why, size_t why_size);
bool inference_ready();
size_t inference_arena_size();
size_t inference_arena_used();
// Tensor access: returns nullptr for an index that does not exist.
uint8_t *inference_input(int index, size_t *bytes);
const uint8_t *inference_output(int index, size_t *bytes);
esp_err_t inference_invoke(InvokeTiming *timing);
