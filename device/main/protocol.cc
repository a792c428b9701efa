#include "protocol.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "esp_app_desc.h"
#include "esp_heap_caps.h"
#include "esp_system.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "inference.h"
#include "model_store.h"
#include "op_resolver.h"
#include "power_sensor.h"
#include "transport.h"

namespace {
enum Type : uint8_t {
    HELLO = 0x01, INFO = 0x02, SET_INPUT = 0x10, INVOKE = 0x11, GET_OUTPUT = 0x12, METRICS = 0x13, RESET = 0x14,
    MODEL_BEGIN = 0x20, MODEL_DATA = 0x21, MODEL_END = 0x22, ERROR = 0x3F,
};
enum Code : uint16_t {
    UNKNOWN_TYPE = 1, BAD_PAYLOAD = 2, UNSUPPORTED_VERSION = 3, NO_MODEL = 4, MODEL_INVALID = 5,
    MODEL_TOO_LARGE = 6, ARENA_TOO_SMALL = 7, UNSUPPORTED_OP = 8, BAD_TENSOR = 9, INVOKE_FAILED = 10,
    UPLOAD_STATE = 11, FLASH_WRITE = 12,
};
constexpr uint8_t kFlagSimulated = 0x01, kFlagAcceptsUpload = 0x02, kFlagCurrentSensor = 0x04, kFlagModelReady = 0x08;

uint8_t answer[kMaxPayload + 64];
Code load_error = NO_MODEL;
char load_why[96] = "no valid model slot";
bool invoked;
CurrentReading last_current;

// Little-endian writer and reader over a byte buffer.
struct Writer {
    uint8_t *p;
    size_t n = 0;
    void u8(uint32_t v) { p[n++] = static_cast<uint8_t>(v); }
    void u16(uint32_t v) { u8(v); u8(v >> 8); }
    void u32(uint32_t v) { u16(v); u16(v >> 16); }
    void u64(uint64_t v) { u32(static_cast<uint32_t>(v)); u32(static_cast<uint32_t>(v >> 32)); }
    void f32(float v) { uint32_t bits; std::memcpy(&bits, &v, 4); u32(bits); }
    void bytes(const void *src, size_t len) { std::memcpy(p + n, src, len); n += len; }
    void str8(const char *s) { size_t len = strnlen(s, 255); u8(len); bytes(s, len); }
};

struct Reader {
    const uint8_t *p;
    size_t size, n = 0;
    bool ok(size_t need) const { return n + need <= size; }
    uint32_t u8() { return p[n++]; }
    uint32_t u16() { uint32_t v = u8(); return v | u8() << 8; }
    uint32_t u32() { uint32_t v = u16(); return v | u16() << 16; }
};

void reply(const espml_frame_t &request, const uint8_t *payload, size_t length)
{
    transport_send(request.type, request.seq, ESPML_FLAG_RESPONSE, payload, length);
}

void error(const espml_frame_t &request, Code code, const char *message)
{
    Writer w{answer};
    w.u16(code);
    w.bytes(message, strnlen(message, 200));
    transport_send(ERROR, request.seq, ESPML_FLAG_RESPONSE, answer, w.n);
}

void load_active()
{
    const ActiveModel &m = model_store_active();
    switch (inference_load(m.data, m.size, load_why, sizeof load_why)) {
        case LoadResult::kOk: load_error = NO_MODEL; break;
        case LoadResult::kNoModel: load_error = NO_MODEL; break;
        case LoadResult::kBadModel: load_error = MODEL_INVALID; break;
        case LoadResult::kUnsupportedOp: load_error = UNSUPPORTED_OP; break;
        case LoadResult::kArenaTooSmall: load_error = ARENA_TOO_SMALL; break;
    }
}

bool need_model(const espml_frame_t &request)
{
    if (inference_ready()) {
        return true;
    }
    error(request, load_error, load_why);
    return false;
}

void on_info(const espml_frame_t &request)
{
    const ActiveModel &m = model_store_active();
    const esp_app_desc_t *app = esp_app_get_description();
    uint8_t flags = kFlagAcceptsUpload | (power_sensor_present() ? kFlagCurrentSensor : 0) |
                    (inference_ready() ? kFlagModelReady : 0);
    Writer w{answer};
    w.u8(ESPML_PROTOCOL_VERSION);
    w.u8(flags);
    w.u16(240);
    w.u16(kMaxPayload);
    w.u8(m.slot < 0 ? 0xFF : m.slot);
    w.u32(m.size);
    w.bytes(m.sha256, 32);
    w.u32(inference_arena_size());
    w.u32(heap_caps_get_free_size(MALLOC_CAP_INTERNAL));
    w.u32(heap_caps_get_free_size(MALLOC_CAP_SPIRAM));
    w.str8(app->project_name);
    w.str8(app->version);
    w.str8("esp32s3");
    w.u8(sizeof kEspmlOpNames / sizeof kEspmlOpNames[0]);
    for (const char *name : kEspmlOpNames) {
        w.str8(name);
    }
    reply(request, answer, w.n);
}

void on_set_input(const espml_frame_t &request)
{
    Reader r{request.payload, request.payload_length};
    if (!r.ok(9)) {
        return error(request, BAD_PAYLOAD, "SET_INPUT payload too short");
    }
    if (!need_model(request)) {
        return;
    }
    uint32_t index = r.u8(), offset = r.u32(), total = r.u32();
    size_t length = request.payload_length - 9, bytes = 0;
    uint8_t *input = inference_input(index, &bytes);
    if (input == nullptr || total != bytes || offset + length > bytes) {
        return error(request, BAD_TENSOR, "input index, size or offset does not match the model");
    }
    std::memcpy(input + offset, request.payload + 9, length);
    reply(request, nullptr, 0);
}

void on_invoke(const espml_frame_t &request)
{
    if (!need_model(request)) {
        return;
    }
    InvokeTiming timing;
    power_sensor_window_start();
    esp_err_t err = inference_invoke(&timing);
    last_current = power_sensor_window_end();
    if (err != ESP_OK) {
        return error(request, INVOKE_FAILED, "Invoke() failed");
    }
    invoked = true;
    Writer w{answer};
    w.u32(timing.latency_us);
    w.u64(timing.cycles);
    reply(request, answer, w.n);
}

void on_get_output(const espml_frame_t &request)
{
    Reader r{request.payload, request.payload_length};
    if (!r.ok(7)) {
        return error(request, BAD_PAYLOAD, "GET_OUTPUT payload too short");
    }
    if (!need_model(request)) {
        return;
    }
    uint32_t index = r.u8(), offset = r.u32(), wanted = r.u16();
    size_t bytes = 0;
    const uint8_t *output = inference_output(index, &bytes);
    if (output == nullptr || !invoked) {
        return error(request, BAD_TENSOR, "no such output, or no INVOKE yet");
    }
    size_t room = kMaxPayload - 9;
    size_t length = offset >= bytes ? 0 : bytes - offset;
    length = length < wanted ? length : wanted;
    length = length < room ? length : room;
    Writer w{answer};
    w.u8(index);
    w.u32(offset);
    w.u32(bytes);
    w.bytes(output + offset, length);
    reply(request, answer, w.n);
}

void on_metrics(const espml_frame_t &request)
{
    Writer w{answer};
    w.u32(inference_arena_used());
    w.u32(heap_caps_get_free_size(MALLOC_CAP_INTERNAL));
    w.u32(heap_caps_get_minimum_free_size(MALLOC_CAP_INTERNAL));
    w.u32(heap_caps_get_free_size(MALLOC_CAP_SPIRAM));
    w.u32(uxTaskGetStackHighWaterMark(nullptr));  // bytes: ESP-IDF's StackType_t is one byte
    bool current = last_current.valid && invoked;
    w.f32(current ? last_current.mean_ma : NAN);
    w.f32(current ? last_current.peak_ma : NAN);
    w.f32(current ? last_current.bus_v : NAN);
    reply(request, answer, w.n);
}

void on_model_begin(const espml_frame_t &request)
{
    Reader r{request.payload, request.payload_length};
    if (!r.ok(36)) {
        return error(request, BAD_PAYLOAD, "MODEL_BEGIN payload too short");
    }
    uint32_t size = r.u32();
    int slot = -1;
    esp_err_t err = upload_begin(size, request.payload + 4, &slot);
    if (err == ESP_ERR_INVALID_SIZE) {
        return error(request, MODEL_TOO_LARGE, "the model image is larger than its slot");
    }
    if (err != ESP_OK) {
        return error(request, FLASH_WRITE, "erasing the model slot failed");
    }
    uint8_t s = static_cast<uint8_t>(slot);
    reply(request, &s, 1);
}

void on_model_data(const espml_frame_t &request)
{
    Reader r{request.payload, request.payload_length};
    if (!r.ok(4)) {
        return error(request, BAD_PAYLOAD, "MODEL_DATA payload too short");
    }
    uint32_t offset = r.u32();
    esp_err_t err = upload_data(offset, request.payload + 4, request.payload_length - 4);
    if (err == ESP_ERR_INVALID_STATE) {
        return error(request, UPLOAD_STATE, "MODEL_DATA out of order or without MODEL_BEGIN");
    }
    if (err != ESP_OK) {
        return error(request, FLASH_WRITE, "writing the model slot failed");
    }
    reply(request, nullptr, 0);
}

void on_model_end(const espml_frame_t &request)
{
    int slot = -1;
    int previous = model_store_active().slot;
    esp_err_t err = upload_end(&slot);
    if (err == ESP_ERR_INVALID_STATE) {
        return error(request, UPLOAD_STATE, "MODEL_END without MODEL_BEGIN");
    }
    if (err == ESP_ERR_INVALID_CRC) {
        return error(request, MODEL_INVALID, "SHA-256 of the received model does not match; the active model is unchanged");
    }
    if (err != ESP_OK) {
        return error(request, FLASH_WRITE, "writing the model header failed");
    }
    invoked = false;
    load_active();
    if (!inference_ready()) {
        (void)previous;  // the new slot verified but cannot run: report why; the host may re-flash
        return error(request, load_error, load_why);
    }
    uint8_t s = static_cast<uint8_t>(slot);
    reply(request, &s, 1);
}
}  // namespace

void protocol_start()
{
    load_active();
}

void protocol_handle(const espml_frame_t &request)
{
    if (request.version != ESPML_PROTOCOL_VERSION) {
        return error(request, UNSUPPORTED_VERSION, "this firmware speaks protocol version 1");
    }
    switch (request.type) {
        case HELLO:
        case INFO: return on_info(request);
        case SET_INPUT: return on_set_input(request);
        case INVOKE: return on_invoke(request);
        case GET_OUTPUT: return on_get_output(request);
        case METRICS: return on_metrics(request);
        case RESET:
            reply(request, nullptr, 0);
            vTaskDelay(pdMS_TO_TICKS(20));  // let the answer leave before the chip restarts
            esp_restart();
        case MODEL_BEGIN: return on_model_begin(request);
        case MODEL_DATA: return on_model_data(request);
        case MODEL_END: return on_model_end(request);
        default: return error(request, UNKNOWN_TYPE, "unknown message type");
    }
}
