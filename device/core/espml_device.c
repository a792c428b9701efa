#include "espml_device.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "espml_ops.h"
#include "espml_tflite.h"

enum {
    HELLO = 0x01, INFO = 0x02, SET_INPUT = 0x10, INVOKE = 0x11, GET_OUTPUT = 0x12, METRICS = 0x13, RESET = 0x14,
    PROFILE = 0x15, MODEL_BEGIN = 0x20, MODEL_DATA = 0x21, MODEL_END = 0x22, LOG = 0x30, ERROR = 0x3F,
};
enum { UNKNOWN_TYPE = 1, UNSUPPORTED_VERSION = 3 };
enum { FLAG_SIMULATED = 0x01, FLAG_ACCEPTS_UPLOAD = 0x02, FLAG_CURRENT_SENSOR = 0x04, FLAG_MODEL_READY = 0x08 };
#define NO_SLOT 0xFF
#define TENSOR_CHUNK_HEADER 9

/* --- little-endian payloads ------------------------------------------------------------------ */
typedef struct {
    uint8_t *p;
    size_t n, capacity;
} writer_t;

static void put(writer_t *w, const void *src, size_t length)
{
    if (length > w->capacity - w->n) {
        length = w->capacity - w->n;
    }
    memcpy(w->p + w->n, src, length);
    w->n += length;
}
static void put_u8(writer_t *w, uint32_t v) { uint8_t b = (uint8_t)v; put(w, &b, 1); }
static void put_u16(writer_t *w, uint32_t v) { put_u8(w, v); put_u8(w, v >> 8); }
static void put_u32(writer_t *w, uint32_t v) { put_u16(w, v); put_u16(w, v >> 16); }
static void put_u64(writer_t *w, uint64_t v) { put_u32(w, (uint32_t)v); put_u32(w, (uint32_t)(v >> 32)); }
static void put_f32(writer_t *w, float v) { uint32_t bits; memcpy(&bits, &v, 4); put_u32(w, bits); }
static void put_str8(writer_t *w, const char *s)
{
    size_t length = s ? strlen(s) : 0;
    length = length > 255 ? 255 : length;
    put_u8(w, (uint32_t)length);
    put(w, s, length);
}

static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t get_u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static writer_t answer_writer(espml_device_t *d) { writer_t w = {d->answer, 0, sizeof d->answer}; return w; }

/* --- sending ---------------------------------------------------------------------------------- */
static void lock(espml_device_t *d) { if (d->port->lock) d->port->lock(d->port->ctx); }
static void unlock(espml_device_t *d) { if (d->port->unlock) d->port->unlock(d->port->ctx); }

static void write_frame(espml_device_t *d, uint8_t type, uint16_t seq, uint8_t flags, const uint8_t *payload,
                        size_t length)
{
    espml_frame_t frame = {ESPML_PROTOCOL_VERSION, type, flags, seq, payload, length};
    size_t size = espml_frame_encode(&frame, d->tx_raw, sizeof d->tx_raw, d->tx_wire, sizeof d->tx_wire);
    if (size) {
        d->port->write(d->port->ctx, d->tx_wire, size);
    }
}

static void send_log_now(espml_device_t *d, uint8_t level, const char *text, size_t length)
{
    uint8_t payload[1 + ESPML_LOG_LINE];
    length = length > ESPML_LOG_LINE ? ESPML_LOG_LINE : length;
    payload[0] = level;
    memcpy(payload + 1, text, length);
    write_frame(d, LOG, ++d->log_seq, 0, payload, length + 1);
}

/* Log lines queued while a frame was being sent, in order: [level, length, text]... */
static void flush_log_queue(espml_device_t *d)
{
    size_t at = 0;
    while (at < d->log_queued) {
        uint8_t level = d->log_queue[at], length = d->log_queue[at + 1];
        char text[ESPML_LOG_LINE];
        memcpy(text, d->log_queue + at + 2, length);
        at += 2 + (size_t)length;
        send_log_now(d, level, text, length);
    }
    d->log_queued = 0;
    if (d->logs_dropped) {
        char note[48];
        int n = snprintf(note, sizeof note, "W espml: %u log lines dropped", (unsigned)d->logs_dropped);
        d->logs_dropped = 0;
        send_log_now(d, ESPML_LOG_WARNING, note, (size_t)n);
    }
}

static void send_frame(espml_device_t *d, uint8_t type, uint16_t seq, const uint8_t *payload, size_t length)
{
    lock(d);
    d->sending++;
    write_frame(d, type, seq, ESPML_FLAG_RESPONSE, payload, length);
    flush_log_queue(d); /* whatever was logged while the port wrote */
    d->sending--;
    unlock(d);
}

static void emit_log(espml_device_t *d, uint8_t level, const char *text, size_t length)
{
    while (length && (text[length - 1] == '\n' || text[length - 1] == '\r')) {
        length--;
    }
    length = length > 255 ? 255 : length;
    lock(d);
    if (d->sending) {
        /* Called from inside the port's write (a driver or TFLM logging): the transmit buffers are
         * in use, so the line waits and goes out right after the frame. */
        if (d->log_queued + 2 + length <= sizeof d->log_queue) {
            d->log_queue[d->log_queued] = level;
            d->log_queue[d->log_queued + 1] = (uint8_t)length;
            memcpy(d->log_queue + d->log_queued + 2, text, length);
            d->log_queued += 2 + length;
        } else {
            d->logs_dropped++;
        }
    } else {
        d->sending++;
        send_log_now(d, level, text, length);
        flush_log_queue(d);
        d->sending--;
    }
    unlock(d);
}

void espml_device_vlog(espml_device_t *d, int level, const char *format, va_list args)
{
    char line[ESPML_LOG_LINE];
    int n = vsnprintf(line, sizeof line, format, args);
    if (n < 0) {
        return;
    }
    emit_log(d, (uint8_t)level, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void espml_device_log(espml_device_t *d, int level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    espml_device_vlog(d, level, format, args);
    va_end(args);
}

void espml_device_debug_write(espml_device_t *d, const char *text, size_t length)
{
    lock(d);
    for (size_t i = 0; i < length; i++) {
        int end = text[i] == '\n';
        if (!end && text[i] != '\r') {
            d->debug_line[d->debug_length++] = text[i];
        }
        if (end || d->debug_length == sizeof d->debug_line) {
            if (d->debug_length) {
                emit_log(d, ESPML_LOG_INFO, d->debug_line, d->debug_length);
            }
            d->debug_length = 0;
        }
    }
    unlock(d);
}

static void reply(espml_device_t *d, const espml_frame_t *request, const uint8_t *payload, size_t length)
{
    send_frame(d, request->type, request->seq, payload, length);
}

static void error(espml_device_t *d, const espml_frame_t *request, uint16_t code, const char *message)
{
    uint8_t payload[2 + ESPML_LOG_LINE];
    writer_t w = {payload, 0, sizeof payload};
    put_u16(&w, code);
    put(&w, message, strlen(message));
    send_frame(d, ERROR, request->seq, payload, w.n);
}

/* --- models ----------------------------------------------------------------------------------- */
/* The core's own checks, then the port's interpreter. Returns ESPML_OK or an error and why. */
static int load_model(espml_device_t *d, const uint8_t *model, uint32_t size)
{
    espml_tflite_summary_t summary;
    if (espml_tflite_summary(model, size, &summary) != 0) {
        snprintf(d->load_why, sizeof d->load_why, "the model is not a TFLite flatbuffer");
        return ESPML_ERR_MODEL_INVALID;
    }
    if (summary.version != ESPML_TFLITE_SCHEMA_VERSION) {
        snprintf(d->load_why, sizeof d->load_why, "model schema %u, the firmware reads %d", (unsigned)summary.version,
                 ESPML_TFLITE_SCHEMA_VERSION);
        return ESPML_ERR_MODEL_INVALID;
    }
    for (uint32_t i = 0; i < summary.op_code_count; i++) {
        int32_t code = espml_tflite_op_code(model, size, i);
        if (code == ESPML_TFLITE_CUSTOM) {
            const uint8_t *name;
            size_t length;
            if (espml_tflite_custom_code(model, size, i, &name, &length) != 0) {
                snprintf(d->load_why, sizeof d->load_why, "the model is not a TFLite flatbuffer");
                return ESPML_ERR_MODEL_INVALID;
            }
            if (!espml_custom_op_registered(name, length)) {
                int shown = length > 64 ? 64 : (int)length;
                snprintf(d->load_why, sizeof d->load_why, "firmware lacks custom op %.*s", shown, (const char *)name);
                return ESPML_ERR_UNSUPPORTED_OP;
            }
            continue;
        }
        if (!espml_op_registered(code)) {
            snprintf(d->load_why, sizeof d->load_why, "firmware lacks op %s", espml_builtin_name(code));
            return ESPML_ERR_UNSUPPORTED_OP;
        }
    }
    return d->port->model_load(d->port->ctx, model, size, d->load_why, sizeof d->load_why);
}

/* Verify `slot` and load its model. On failure the slot stays mapped; the caller decides. */
static int run_slot(espml_device_t *d, int slot)
{
    const uint8_t *model = NULL;
    int err = espml_store_verify(&d->store, slot, &model);
    if (err != ESPML_OK) {
        snprintf(d->load_why, sizeof d->load_why, "slot %c holds no valid model image", "AB"[slot]);
        return err;
    }
    err = load_model(d, model, d->store.header[slot].payload_length);
    if (err == ESPML_OK) {
        d->active = slot;
        d->model_ready = 1;
        d->invoked = 0;
        d->load_error = ESPML_OK;
        espml_device_log(d, ESPML_LOG_INFO, "I espml: model in slot %c (sequence %u, %u bytes) ready, arena %u of %u bytes",
                         "AB"[slot], (unsigned)d->store.header[slot].sequence,
                         (unsigned)d->store.header[slot].payload_length, (unsigned)d->port->arena_used(d->port->ctx),
                         (unsigned)d->port->arena_size);
    }
    return err;
}

static void unload(espml_device_t *d)
{
    if (d->model_ready) {
        d->port->model_unload(d->port->ctx);
    }
    d->model_ready = 0;
    d->invoked = 0;
    d->current_valid = 0;
}

void espml_device_init(espml_device_t *d, const espml_port_t *port)
{
    memset(d, 0, sizeof *d);
    d->port = port;
    d->active = -1;
    d->load_error = ESPML_ERR_NO_MODEL;
    snprintf(d->load_why, sizeof d->load_why, "no valid model slot; upload or flash one");
    espml_store_init(&d->store, port);
    espml_decoder_init(&d->decoder, d->rx_encoded, d->rx_decoded, sizeof d->rx_encoded);
}

void espml_device_boot(espml_device_t *d)
{
    espml_device_log(d, ESPML_LOG_INFO, "I espml: %s %s on %s, protocol %d", d->port->firmware_name,
                     d->port->firmware_version, d->port->board, ESPML_PROTOCOL_VERSION);
    const uint8_t *unused;
    for (int slot = 0; slot < 2; slot++) {
        espml_store_verify(&d->store, slot, &unused);
        espml_store_release(&d->store, slot);
    }
    int order[2];
    int count = espml_store_order(&d->store, order);
    for (int i = 0; i < count && !d->model_ready; i++) {
        int err = run_slot(d, order[i]);
        if (err != ESPML_OK) {
            /* Verified but cannot run on this firmware (an op, the arena): try the older slot, and
             * keep this one, since other firmware may run it. */
            d->load_error = (uint16_t)err;
            espml_device_log(d, ESPML_LOG_WARNING, "W espml: model in slot %c cannot run: %s", "AB"[order[i]],
                             d->load_why);
            espml_store_release(&d->store, order[i]);
        }
    }
    if (count == 0) {
        espml_device_log(d, ESPML_LOG_WARNING, "W espml: no valid model slot; upload or flash one");
    }
}

/* --- requests --------------------------------------------------------------------------------- */
static int need_model(espml_device_t *d, const espml_frame_t *request)
{
    if (!d->model_ready) {
        error(d, request, d->load_error ? d->load_error : ESPML_ERR_NO_MODEL, d->load_why);
    }
    return d->model_ready;
}

static void on_info(espml_device_t *d, const espml_frame_t *request)
{
    const espml_port_t *port = d->port;
    espml_memory_t memory;
    port->memory(port->ctx, &memory);
    int order[2];
    /* The model running, or else the newest valid one (which cannot run: the host hears why). */
    int slot = d->model_ready ? d->active : espml_store_order(&d->store, order) ? order[0] : -1;
    const espml_image_header_t *header = slot >= 0 ? &d->store.header[slot] : NULL;
    static const uint8_t no_hash[32];
    uint8_t flags = FLAG_ACCEPTS_UPLOAD | (port->simulated ? FLAG_SIMULATED : 0) |
                    (port->has_current_sensor ? FLAG_CURRENT_SENSOR : 0) | (d->model_ready ? FLAG_MODEL_READY : 0);
    writer_t w = answer_writer(d);
    put_u8(&w, ESPML_PROTOCOL_VERSION);
    put_u8(&w, flags);
    put_u16(&w, port->cpu_mhz);
    put_u16(&w, ESPML_MAX_PAYLOAD);
    put_u8(&w, header ? (uint32_t)slot : NO_SLOT);
    put_u32(&w, header ? header->payload_length : 0);
    put(&w, header ? header->payload_sha256 : no_hash, 32);
    put_u32(&w, port->arena_size);
    put_u32(&w, memory.heap_free);
    put_u32(&w, memory.psram_free);
    put_str8(&w, port->firmware_name);
    put_str8(&w, port->firmware_version);
    put_str8(&w, port->board);
    put_u8(&w, (uint32_t)espml_registered_op_count);
    for (size_t i = 0; i < espml_registered_op_count; i++) {
        put_u8(&w, (uint32_t)espml_registered_ops[i].code); /* gen_ops.py keeps every code below 256 */
    }
    put_u8(&w, (uint32_t)espml_registered_custom_op_count);
    for (size_t i = 0; i < espml_registered_custom_op_count; i++) {
        put_str8(&w, espml_registered_custom_ops[i]); /* gen_ops.py keeps every name below 256 bytes */
    }
    reply(d, request, d->answer, w.n);
}

static void on_set_input(espml_device_t *d, const espml_frame_t *request)
{
    if (request->payload_length < TENSOR_CHUNK_HEADER) {
        return error(d, request, ESPML_ERR_BAD_PAYLOAD, "SET_INPUT payload too short");
    }
    if (!need_model(d, request)) {
        return;
    }
    const uint8_t *p = request->payload;
    uint32_t index = p[0], offset = get_u32(p + 1), total = get_u32(p + 5), bytes = 0;
    size_t length = request->payload_length - TENSOR_CHUNK_HEADER;
    uint8_t *input = d->port->tensor(d->port->ctx, 0, index, &bytes);
    if (input == NULL) {
        return error(d, request, ESPML_ERR_BAD_TENSOR, "no such input tensor");
    }
    if (total != bytes || offset > bytes || length > bytes - offset) {
        char why[96];
        snprintf(why, sizeof why, "input %u is %u bytes, got total %u at offset %u+%u", (unsigned)index,
                 (unsigned)bytes, (unsigned)total, (unsigned)offset, (unsigned)length);
        return error(d, request, ESPML_ERR_BAD_TENSOR, why);
    }
    memcpy(input + offset, p + TENSOR_CHUNK_HEADER, length);
    reply(d, request, NULL, 0);
}

static void set_marker(espml_device_t *d, int high)
{
    if (d->port->marker != NULL) {
        d->port->marker(d->port->ctx, high);
    }
}

static void on_invoke(espml_device_t *d, const espml_frame_t *request)
{
    if (!need_model(d, request)) {
        return;
    }
    uint32_t latency_us = 0;
    uint64_t cycles = 0;
    d->port->current_start(d->port->ctx);
    set_marker(d, 1);
    int err = d->port->invoke(d->port->ctx, &latency_us, &cycles);
    set_marker(d, 0);
    d->current_valid = d->port->current_end(d->port->ctx, &d->current);
    if (err != ESPML_OK) {
        return error(d, request, ESPML_ERR_INVOKE_FAILED, "Invoke() failed");
    }
    d->invoked = 1;
    writer_t w = answer_writer(d);
    put_u32(&w, latency_us);
    put_u64(&w, cycles);
    reply(d, request, d->answer, w.n);
}

_Static_assert(8 + 5 * ESPML_PROFILE_OPS <= ESPML_MAX_PAYLOAD, "a PROFILE answer must fit one frame");

static void on_profile(espml_device_t *d, const espml_frame_t *request)
{
    if (!need_model(d, request)) {
        return;
    }
    if (d->port->profile == NULL) {
        return error(d, request, UNKNOWN_TYPE, "this firmware's port cannot time single ops");
    }
    uint32_t op_count = 0, latency_us = 0;
    set_marker(d, 1);
    int err = d->port->profile(d->port->ctx, d->profile, ESPML_PROFILE_OPS, &op_count, &latency_us);
    set_marker(d, 0);
    if (err != ESPML_OK) {
        return error(d, request, ESPML_ERR_INVOKE_FAILED, "Invoke() failed");
    }
    d->invoked = 1;
    uint32_t listed = op_count < ESPML_PROFILE_OPS ? op_count : ESPML_PROFILE_OPS;
    writer_t w = answer_writer(d);
    put_u32(&w, latency_us);
    put_u16(&w, op_count > 0xFFFF ? 0xFFFF : op_count);
    put_u16(&w, listed);
    for (uint32_t i = 0; i < listed; i++) {
        put_u8(&w, d->profile[i].code);
        put_u32(&w, d->profile[i].time_us);
    }
    reply(d, request, d->answer, w.n);
}

static void on_get_output(espml_device_t *d, const espml_frame_t *request)
{
    if (request->payload_length < 7) {
        return error(d, request, ESPML_ERR_BAD_PAYLOAD, "GET_OUTPUT payload too short");
    }
    if (!need_model(d, request)) {
        return;
    }
    const uint8_t *p = request->payload;
    uint32_t index = p[0], offset = get_u32(p + 1), wanted = get_u16(p + 5), bytes = 0;
    const uint8_t *output = d->port->tensor(d->port->ctx, 1, index, &bytes);
    if (output == NULL) {
        return error(d, request, ESPML_ERR_BAD_TENSOR, "no such output tensor");
    }
    if (!d->invoked) {
        return error(d, request, ESPML_ERR_BAD_TENSOR, "no output yet; send INVOKE first");
    }
    uint32_t length = offset >= bytes ? 0 : bytes - offset;
    uint32_t room = ESPML_MAX_PAYLOAD - TENSOR_CHUNK_HEADER;
    length = length < wanted ? length : wanted;
    length = length < room ? length : room;
    writer_t w = answer_writer(d);
    put_u8(&w, index);
    put_u32(&w, offset);
    put_u32(&w, bytes);
    put(&w, output + offset, length);
    reply(d, request, d->answer, w.n);
}

static void on_metrics(espml_device_t *d, const espml_frame_t *request)
{
    espml_memory_t memory;
    d->port->memory(d->port->ctx, &memory);
    int current = d->current_valid && d->invoked;
    writer_t w = answer_writer(d);
    put_u32(&w, d->model_ready ? d->port->arena_used(d->port->ctx) : 0);
    put_u32(&w, memory.heap_free);
    put_u32(&w, memory.heap_free_min);
    put_u32(&w, memory.psram_free);
    put_u32(&w, memory.stack_high_water);
    put_f32(&w, current ? d->current.mean_ma : NAN);
    put_f32(&w, current ? d->current.peak_ma : NAN);
    put_f32(&w, current ? d->current.bus_v : NAN);
    reply(d, request, d->answer, w.n);
}

static void on_model_begin(espml_device_t *d, const espml_frame_t *request)
{
    if (request->payload_length < 36) {
        return error(d, request, ESPML_ERR_BAD_PAYLOAD, "MODEL_BEGIN payload too short");
    }
    uint32_t size = get_u32(request->payload);
    int slot = d->active < 0 ? 0 : 1 - d->active; /* never the slot that runs */
    int err = espml_store_begin(&d->store, slot, size, request->payload + 4);
    if (err == ESPML_ERR_MODEL_TOO_LARGE) {
        char why[96];
        snprintf(why, sizeof why, "model image is %u bytes, a slot holds %u", (unsigned)(size + ESPML_IMAGE_HEADER_SIZE),
                 (unsigned)d->port->slot_size);
        return error(d, request, (uint16_t)err, why);
    }
    if (err != ESPML_OK) {
        return error(d, request, (uint16_t)err, "erasing the model slot failed");
    }
    d->end_answer.valid = 0;
    uint8_t s = (uint8_t)slot;
    reply(d, request, &s, 1);
}

static void on_model_data(espml_device_t *d, const espml_frame_t *request)
{
    if (request->payload_length < 4) {
        return error(d, request, ESPML_ERR_BAD_PAYLOAD, "MODEL_DATA payload too short");
    }
    uint32_t offset = get_u32(request->payload);
    int err = espml_store_data(&d->store, offset, request->payload + 4, (uint32_t)request->payload_length - 4);
    if (err == ESPML_ERR_UPLOAD_STATE) {
        return error(d, request, (uint16_t)err, d->store.upload.open ? "MODEL_DATA leaves a gap: send the bytes in order"
                                                                       : "MODEL_DATA without MODEL_BEGIN");
    }
    if (err == ESPML_ERR_BAD_PAYLOAD) {
        return error(d, request, (uint16_t)err, "chunk runs past the announced model size");
    }
    if (err != ESPML_OK) {
        return error(d, request, (uint16_t)err, "writing the model slot failed");
    }
    reply(d, request, NULL, 0);
}

/* Answer MODEL_END and keep the answer: a host that did not hear it asks again with the same seq. */
static void end_reply(espml_device_t *d, const espml_frame_t *request, uint8_t type, const uint8_t *payload,
                      size_t length)
{
    d->end_answer.valid = 1;
    d->end_answer.seq = request->seq;
    d->end_answer.type = type;
    d->end_answer.length = length < sizeof d->end_answer.payload ? length : sizeof d->end_answer.payload;
    memcpy(d->end_answer.payload, payload, d->end_answer.length);
    send_frame(d, type, request->seq, d->end_answer.payload, d->end_answer.length);
}

static void end_error(espml_device_t *d, const espml_frame_t *request, uint16_t code, const char *message)
{
    uint8_t payload[2 + ESPML_LOG_LINE];
    writer_t w = {payload, 0, sizeof payload - 2};
    put_u16(&w, code);
    put(&w, message, strlen(message));
    end_reply(d, request, ERROR, payload, w.n);
}

static void on_model_end(espml_device_t *d, const espml_frame_t *request)
{
    if (!d->store.upload.open && d->end_answer.valid && d->end_answer.seq == request->seq) {
        return send_frame(d, d->end_answer.type, request->seq, d->end_answer.payload, d->end_answer.length);
    }
    if (!d->store.upload.open) {
        return error(d, request, ESPML_ERR_UPLOAD_STATE, "MODEL_END without MODEL_BEGIN");
    }
    int slot = -1, previous = d->model_ready ? d->active : -1;
    int err = espml_store_finish(&d->store, &slot);
    if (err == ESPML_ERR_MODEL_INVALID) {
        return end_error(d, request, (uint16_t)err,
                         "SHA-256 of the received model does not match; the active model is unchanged");
    }
    if (err != ESPML_OK) {
        return end_error(d, request, (uint16_t)err, "writing the model header failed; the active model is unchanged");
    }
    /* The running model stays mapped until its successor runs, so it can come back untouched. */
    unload(d);
    err = run_slot(d, slot);
    if (err == ESPML_OK) {
        if (previous >= 0 && previous != slot) {
            espml_store_release(&d->store, previous);
        }
        uint8_t s = (uint8_t)slot;
        return end_reply(d, request, request->type, &s, 1);
    }
    char why[sizeof d->load_why + 40];
    snprintf(why, sizeof why, "%s; %s stays active", d->load_why, previous < 0 ? "no model" :
             previous == 0 ? "slot A" : "slot B");
    espml_store_invalidate(&d->store, slot); /* it cannot run here: the old model stays in charge */
    if (previous >= 0 && run_slot(d, previous) != ESPML_OK) {
        espml_store_release(&d->store, previous);
    }
    if (!d->model_ready) {
        d->load_error = (uint16_t)err;
    }
    end_error(d, request, (uint16_t)err, why);
}

static void on_reset(espml_device_t *d, const espml_frame_t *request)
{
    reply(d, request, NULL, 0);
    d->port->restart(d->port->ctx);
}

static void handle(espml_device_t *d, const espml_frame_t *request)
{
    if (request->version != ESPML_PROTOCOL_VERSION) {
        return error(d, request, UNSUPPORTED_VERSION, "this firmware speaks protocol version 1");
    }
    switch (request->type) {
        case HELLO:
        case INFO: return on_info(d, request);
        case SET_INPUT: return on_set_input(d, request);
        case INVOKE: return on_invoke(d, request);
        case GET_OUTPUT: return on_get_output(d, request);
        case METRICS: return on_metrics(d, request);
        case PROFILE: return on_profile(d, request);
        case RESET: return on_reset(d, request);
        case MODEL_BEGIN: return on_model_begin(d, request);
        case MODEL_DATA: return on_model_data(d, request);
        case MODEL_END: return on_model_end(d, request);
        default: {
            char why[40];
            snprintf(why, sizeof why, "unknown message type 0x%02x", request->type);
            return error(d, request, UNKNOWN_TYPE, why);
        }
    }
}

void espml_device_feed(espml_device_t *d, const uint8_t *bytes, size_t length)
{
    espml_frame_t frame;
    for (size_t i = 0; i < length; i++) {
        if (espml_decoder_feed(&d->decoder, bytes[i], &frame) == ESPML_DECODE_FRAME) {
            handle(d, &frame);
        }
    }
}
