#include <cstdio>
#include <new>

#include "esp_cpu.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "esp_timer.h"
#include "espml_esp_idf.h"
#include "espml_ops.h"
#include "op_resolver.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
constexpr const char *kTag = "espml.tflm";
// Tensor arenas: inspect's budgets for the boards (toolkit/boards/esp32s3.py).
constexpr size_t kInternalArena = 160 * 1024;
constexpr size_t kPsramArena = 2 * 1024 * 1024;

// Times every op of one Invoke() while armed (TFLite-Micro calls it around each kernel's Invoke;
// a subgraph op's events nest inside it, hence a handle per event). Idle, it only returns.
class OpTimer : public tflite::MicroProfilerInterface {
 public:
    void Arm(espml_op_time_t *ops, uint32_t max_ops)
    {
        ops_ = ops;
        max_ops_ = max_ops < kMaxTags ? max_ops : kMaxTags;
        count_ = 0;
    }

    // Disarms and names the ops by builtin code (after the timed Invoke(), so lookups cost it nothing).
    uint32_t Finish()
    {
        for (uint32_t i = 0; i < count_ && i < max_ops_; i++) {
            int32_t code = espml_registered_op_code(tags_[i]);
            ops_[i].code = code < 0 ? ESPML_OP_CODE_OTHER : static_cast<uint8_t>(code);
        }
        ops_ = nullptr;
        return count_;
    }

    uint32_t BeginEvent(const char *tag) override
    {
        if (ops_ == nullptr) {
            return 0;
        }
        uint32_t handle = count_++;
        if (handle < max_ops_) {
            tags_[handle] = tag;
            ops_[handle].time_us = static_cast<uint32_t>(esp_timer_get_time());  // the start, until EndEvent
        }
        return handle;
    }

    void EndEvent(uint32_t handle) override
    {
        if (ops_ != nullptr && handle < max_ops_) {
            ops_[handle].time_us = static_cast<uint32_t>(esp_timer_get_time()) - ops_[handle].time_us;
        }
    }

 private:
    static constexpr uint32_t kMaxTags = ESPML_PROFILE_OPS;
    espml_op_time_t *ops_ = nullptr;
    uint32_t max_ops_ = 0, count_ = 0;
    const char *tags_[kMaxTags];
};

uint8_t *arena;
size_t arena_size;
EspmlOpResolver resolver;
OpTimer op_timer;
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *interpreter;  // never left pointing at a half-built interpreter

void unload(void *)
{
    if (interpreter != nullptr) {
        interpreter->~MicroInterpreter();
        interpreter = nullptr;
    }
}

// The core has already checked the schema version and that every op is registered.
int load(void *ctx, const uint8_t *data, uint32_t, char *why, size_t why_size)
{
    unload(ctx);
    const tflite::Model *model = tflite::GetModel(data);
    interpreter = new (interpreter_storage) tflite::MicroInterpreter(model, resolver, arena, arena_size, nullptr, &op_timer);
    if (interpreter->AllocateTensors() != kTfLiteOk) {
        unload(ctx);
        snprintf(why, why_size, "tensor arena of %u bytes is too small for this model", static_cast<unsigned>(arena_size));
        return ESPML_ERR_ARENA_TOO_SMALL;
    }
    return ESPML_OK;
}

uint8_t *tensor(void *, int output, uint32_t index, uint32_t *bytes)
{
    size_t count = interpreter == nullptr ? 0 : output ? interpreter->outputs_size() : interpreter->inputs_size();
    if (index >= count) {
        return nullptr;
    }
    TfLiteTensor *t = output ? interpreter->output(index) : interpreter->input(index);
    *bytes = static_cast<uint32_t>(t->bytes);
    return t->data.uint8;
}

int invoke(void *, uint32_t *latency_us, uint64_t *cycles)
{
    if (interpreter == nullptr) {
        return ESPML_ERR_INVOKE_FAILED;
    }
    uint32_t cycles_before = esp_cpu_get_cycle_count();
    int64_t before = esp_timer_get_time();
    TfLiteStatus status = interpreter->Invoke();
    int64_t after = esp_timer_get_time();
    uint32_t cycles_after = esp_cpu_get_cycle_count();
    *latency_us = static_cast<uint32_t>(after - before);
    // The 32-bit cycle counter wraps every ~17.9 s at 240 MHz: beyond that, derive from time.
    *cycles = (after - before) < 17000000 ? static_cast<uint32_t>(cycles_after - cycles_before)
                                          : static_cast<uint64_t>(after - before) * esp_rom_get_cpu_ticks_per_us();
    return status == kTfLiteOk ? ESPML_OK : ESPML_ERR_INVOKE_FAILED;
}

int profile(void *ctx, espml_op_time_t *ops, uint32_t max_ops, uint32_t *op_count, uint32_t *latency_us)
{
    uint64_t cycles;
    op_timer.Arm(ops, max_ops);
    int err = invoke(ctx, latency_us, &cycles);
    *op_count = op_timer.Finish();
    return err;
}

uint32_t arena_used(void *) { return interpreter ? static_cast<uint32_t>(interpreter->arena_used_bytes()) : 0; }
}  // namespace

esp_err_t inference_init(espml_port_t *port)
{
    // Internal RAM is fastest; a board with PSRAM (esp32s3-r8) gets the larger arena there.
    bool psram = heap_caps_get_total_size(MALLOC_CAP_SPIRAM) >= kPsramArena;
    arena_size = psram ? kPsramArena : kInternalArena;
    arena = static_cast<uint8_t *>(psram ? heap_caps_malloc(arena_size, MALLOC_CAP_SPIRAM | MALLOC_CAP_8BIT)
                                         : heap_caps_malloc(arena_size, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT));
    if (arena == nullptr) {
        ESP_LOGE(kTag, "cannot allocate a %u-byte tensor arena", static_cast<unsigned>(arena_size));
        return ESP_ERR_NO_MEM;
    }
    if (espml_register_ops(resolver) != kTfLiteOk) {
        ESP_LOGE(kTag, "registering the op resolver failed");
        return ESP_FAIL;
    }
    port->arena_size = static_cast<uint32_t>(arena_size);
    port->model_load = load;
    port->model_unload = unload;
    port->tensor = tensor;
    port->invoke = invoke;
    port->profile = profile;
    port->arena_used = arena_used;
    return ESP_OK;
}
