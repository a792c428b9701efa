#include "inference.h"

#include <cstdio>
#include <new>

#include "esp_cpu.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "op_resolver.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

namespace {
constexpr const char *kTag = "espml.tflm";
uint8_t *arena;
size_t arena_size;
EspmlOpResolver resolver;
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *interpreter;  // never left pointing at a half-built interpreter

void drop_interpreter()
{
    if (interpreter != nullptr) {
        interpreter->~MicroInterpreter();
        interpreter = nullptr;
    }
}
}  // namespace

esp_err_t inference_init(size_t arena_bytes)
{
    // Internal RAM first (fastest); PSRAM when the board has it and internal RAM is short.
    arena = static_cast<uint8_t *>(heap_caps_malloc_prefer(arena_bytes, 2, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT,
                                                           MALLOC_CAP_SPIRAM | MALLOC_CAP_8BIT));
    if (arena == nullptr) {
        ESP_LOGE(kTag, "cannot allocate a %u-byte tensor arena", (unsigned)arena_bytes);
        return ESP_ERR_NO_MEM;
    }
    arena_size = arena_bytes;
    if (espml_register_ops(resolver) != kTfLiteOk) {
        ESP_LOGE(kTag, "registering the op resolver failed");
        return ESP_FAIL;
    }
    return ESP_OK;
}

LoadResult inference_load(const uint8_t *data, size_t size, char *why, size_t why_size)
{
    drop_interpreter();
    if (data == nullptr || size == 0) {
        snprintf(why, why_size, "no valid model slot");
        return LoadResult::kNoModel;
    }
    const tflite::Model *model = tflite::GetModel(data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        snprintf(why, why_size, "model schema %u, firmware expects %d", (unsigned)model->version(), TFLITE_SCHEMA_VERSION);
        return LoadResult::kBadModel;
    }
    // Refuse ops the resolver lacks before TFLM reports it in the middle of allocation.
    const auto *codes = model->operator_codes();
    for (size_t i = 0; codes != nullptr && i < codes->size(); i++) {
        const tflite::OperatorCode *code = codes->Get(i);
        tflite::BuiltinOperator op = tflite::GetBuiltinCode(code);
        if (op == tflite::BuiltinOperator_CUSTOM || resolver.FindOp(op) == nullptr) {
            snprintf(why, why_size, "firmware lacks op %s", tflite::EnumNameBuiltinOperator(op));
            return LoadResult::kUnsupportedOp;
        }
    }
    interpreter = new (interpreter_storage) tflite::MicroInterpreter(model, resolver, arena, arena_size);
    if (interpreter->AllocateTensors() != kTfLiteOk) {
        drop_interpreter();
        snprintf(why, why_size, "tensor arena of %u bytes is too small for this model", (unsigned)arena_size);
        return LoadResult::kArenaTooSmall;
    }
    ESP_LOGI(kTag, "model ready, arena %u of %u bytes", (unsigned)interpreter->arena_used_bytes(), (unsigned)arena_size);
    return LoadResult::kOk;
}

bool inference_ready() { return interpreter != nullptr; }
size_t inference_arena_size() { return arena_size; }
size_t inference_arena_used() { return interpreter ? interpreter->arena_used_bytes() : 0; }

uint8_t *inference_input(int index, size_t *bytes)
{
    if (interpreter == nullptr || index < 0 || static_cast<size_t>(index) >= interpreter->inputs_size()) {
        return nullptr;
    }
    TfLiteTensor *tensor = interpreter->input(index);
    *bytes = tensor->bytes;
    return tensor->data.uint8;
}

const uint8_t *inference_output(int index, size_t *bytes)
{
    if (interpreter == nullptr || index < 0 || static_cast<size_t>(index) >= interpreter->outputs_size()) {
        return nullptr;
    }
    TfLiteTensor *tensor = interpreter->output(index);
    *bytes = tensor->bytes;
    return tensor->data.uint8;
}

esp_err_t inference_invoke(InvokeTiming *timing)
{
    if (interpreter == nullptr) {
        return ESP_ERR_INVALID_STATE;
    }
    uint32_t cycles_before = esp_cpu_get_cycle_count();
    int64_t before = esp_timer_get_time();
    TfLiteStatus status = interpreter->Invoke();
    int64_t after = esp_timer_get_time();
    uint32_t cycles_after = esp_cpu_get_cycle_count();
    timing->latency_us = static_cast<uint32_t>(after - before);
    // The 32-bit cycle counter wraps every ~17.9 s at 240 MHz: beyond that, derive from time.
    timing->cycles = (after - before) < 17000000 ? static_cast<uint32_t>(cycles_after - cycles_before)
                                                 : static_cast<uint64_t>(after - before) * 240;
    return status == kTfLiteOk ? ESP_OK : ESP_FAIL;
}
