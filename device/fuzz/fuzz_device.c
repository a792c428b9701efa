/* The firmware's protocol handler (device/core/espml_device.c, with the store, the image parser
 * and the flatbuffer reader under it) through a fake port: two model slots in exact-size heap
 * buffers (a released mapping is poisoned under AddressSanitizer, so a read through it is caught),
 * an interpreter that only remembers what it was given, tensors in exact-size heap buffers, a
 * restart that does not return (longjmp to a reboot), and a transport that decodes every byte
 * the device sends and checks it.
 *
 * Input: a config byte, a fault byte, then records until the input ends. Each record starts with a
 * tag byte; tag % 8 selects:
 *   0 RAW      n:u8, n bytes fed as they are (boot text, noise, torn frames)
 *   1 FRAME    type:u8 seq:u16 n:u16 (at most 8191) payload; tag&0x80: a version byte follows
 *              type, tag&0x40: a flags byte. Encoded correctly and fed.
 *   2 UPLOAD   n:u16 (at most 16383) chunk:u8, then n model bytes: MODEL_BEGIN with their true
 *              SHA-256, MODEL_DATA in chunks of (chunk+1)*16 bytes, MODEL_END. tag&0x40 sends every
 *              chunk twice (a host retrying), tag&0x80 sends MODEL_END twice (same seq).
 *   3 IMAGE    seq:u8 n:u16 then n model bytes written into slot tag>>7 as a valid model image (or
 *              verbatim when tag&0x40), as espml flash or esptool would; then a reboot.
 *   4 REBOOT
 *   5 DEBUG    n:u8 bytes of raw text (TFLite-Micro's DebugLog) into espml_device_debug_write
 *   6 LOG      n:u8 bytes logged at level (tag>>4)&3
 *   7 RUN      index:u8 n:u8 bytes: SET_INPUT of the whole tensor, INVOKE, GET_OUTPUT
 * Config bits: 0-1 slot size (4, 8, 16 or 64 KiB), 2-3 model_load (ok, arena too small, fails
 * when the model's last byte is odd, ok), 4 Invoke() fails, 5 current sensor, 6 a log line from
 * inside the port's write, 7 the port cannot profile (no profile function). Fault byte: the n-th flash erase or program fails (0: none).
 *
 * Invariants: every byte the device sends is a well-formed frame no larger than it announces;
 * every request it can hold gets exactly one answer (its type or ERROR, its seq, RESPONSE set);
 * a restart (REBOOT, RESET) leaves the same model running, or none if none ran;
 * the core asks for tensors and Invoke() only while a model is loaded; the model it loads lies in
 * a mapped slot and stays mapped while loaded. */
#include <setjmp.h>

#include "espml_cobs.h"
#include "espml_device.h"
#include "espml_frame.h"
#include "espml_model_image.h"
#include "espml_crc32.h"
#include "espml_sha256.h"
#include "fuzz_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum { HELLO = 0x01, SET_INPUT = 0x10, INVOKE = 0x11, GET_OUTPUT = 0x12, RESET = 0x14, MODEL_BEGIN = 0x20,
       MODEL_DATA = 0x21, MODEL_END = 0x22, LOG = 0x30, ERROR = 0x3F };

#define INPUT_BYTES 49
#define OUTPUT_BYTES 10

static struct {
    espml_port_t port;
    espml_device_t *device;
    uint32_t slot_size;
    uint8_t *slot[2];
    int mapped[2];
    int load_mode, invoke_fails, log_in_write, in_write;
    unsigned fault_at, flash_ops;
    const uint8_t *model;
    uint32_t model_size;
    int loaded, invoked;
    uint8_t *input, *output;
    jmp_buf reboot;
    /* what the device sent */
    espml_decoder_t decoder;
    uint8_t *rx, *rx_decoded;
    unsigned answers, frames;
    uint16_t answer_seq;
    uint8_t answer_type;
} fake;

/* --- the fake port -------------------------------------------------------------------------------- */
static void on_write(void *ctx, const uint8_t *bytes, size_t length)
{
    (void)ctx;
    FUZZ_CHECK(length >= 2 && bytes[0] == 0 && bytes[length - 1] == 0); /* whole frames only */
    int frames = 0;
    for (size_t i = 0; i < length; i++) {
        espml_frame_t frame;
        espml_decode_result_t r = espml_decoder_feed(&fake.decoder, bytes[i], &frame);
        FUZZ_CHECK(r != ESPML_DECODE_GARBAGE);
        if (r == ESPML_DECODE_FRAME) {
            frames++;
            FUZZ_CHECK(frame.version == ESPML_PROTOCOL_VERSION && frame.payload_length <= ESPML_MAX_PAYLOAD);
            if (frame.flags & ESPML_FLAG_RESPONSE) {
                FUZZ_CHECK(frame.type != LOG);
                fake.answers++;
                fake.answer_seq = frame.seq;
                fake.answer_type = frame.type;
            } else {
                FUZZ_CHECK(frame.type == LOG && frame.payload_length >= 1 && frame.payload[0] <= 3);
            }
        }
    }
    FUZZ_CHECK(frames == 1);
    fake.frames++;
    if (fake.log_in_write && !fake.in_write) {
        fake.in_write = 1; /* a driver logging while the port writes: the lines wait their turn (or drop) */
        for (unsigned i = 0; i < fake.frames % 9; i++) {
            espml_device_log(fake.device, ESPML_LOG_DEBUG, "D port: wrote %u bytes (%u)%*s", (unsigned)length, i,
                             (int)(i * 24), "");
        }
        fake.in_write = 0;
    }
}

static int fault(void)
{
    return fake.fault_at && ++fake.flash_ops == fake.fault_at;
}

static int flash_erase(void *ctx, int slot, uint32_t offset, uint32_t length)
{
    (void)ctx;
    FUZZ_CHECK(slot == 0 || slot == 1);
    FUZZ_CHECK(offset % ESPML_SECTOR == 0 && length % ESPML_SECTOR == 0);
    FUZZ_CHECK(offset <= fake.slot_size && length <= fake.slot_size - offset);
    if (fault()) {
        return -1;
    }
    UNPOISON(fake.slot[slot] + offset, length);
    memset(fake.slot[slot] + offset, 0xFF, length);
    if (!fake.mapped[slot]) {
        POISON(fake.slot[slot] + offset, length);
    }
    return 0;
}

static int flash_write(void *ctx, int slot, uint32_t offset, const uint8_t *data, uint32_t length)
{
    (void)ctx;
    FUZZ_CHECK(slot == 0 || slot == 1);
    FUZZ_CHECK(offset <= fake.slot_size && length <= fake.slot_size - offset);
    if (fault()) {
        return -1;
    }
    UNPOISON(fake.slot[slot] + offset, length);
    for (uint32_t i = 0; i < length; i++) {
        fake.slot[slot][offset + i] &= data[i]; /* NOR: programming clears bits */
    }
    if (!fake.mapped[slot]) {
        POISON(fake.slot[slot] + offset, length);
    }
    return 0;
}

static const uint8_t *flash_map(void *ctx, int slot)
{
    (void)ctx;
    FUZZ_CHECK(slot == 0 || slot == 1);
    fake.mapped[slot] = 1;
    UNPOISON(fake.slot[slot], fake.slot_size);
    return fake.slot[slot];
}

static void flash_unmap(void *ctx, int slot)
{
    (void)ctx;
    FUZZ_CHECK(slot == 0 || slot == 1);
    FUZZ_CHECK(!fake.loaded || fake.model < fake.slot[slot] || fake.model >= fake.slot[slot] + fake.slot_size);
    fake.mapped[slot] = 0;
    POISON(fake.slot[slot], fake.slot_size);
}

static int model_load(void *ctx, const uint8_t *model, uint32_t size, char *why, size_t why_size)
{
    (void)ctx;
    int slot = model >= fake.slot[1] && model < fake.slot[1] + fake.slot_size;
    FUZZ_CHECK(model >= fake.slot[slot] && size <= fake.slot_size - (uint32_t)(model - fake.slot[slot]));
    FUZZ_CHECK(fake.mapped[slot]);
    fake.loaded = 0; /* as the ESP-IDF port: a new load ends the old interpreter */
    fake.invoked = 0;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < size; i++) {
        sum ^= model[i]; /* TFLite-Micro reads the whole model */
    }
    int err = ESPML_OK;
    if (fake.load_mode == 1) {
        err = ESPML_ERR_ARENA_TOO_SMALL;
    } else if (fake.load_mode == 2 && size && (model[size - 1] & 1)) {
        err = ESPML_ERR_UNSUPPORTED_OP;
    }
    if (err != ESPML_OK) {
        snprintf(why, why_size, "fake interpreter refuses the model (%02x)", sum);
        return err;
    }
    fake.model = model;
    fake.model_size = size;
    fake.loaded = 1;
    return ESPML_OK;
}

static void model_unload(void *ctx)
{
    (void)ctx;
    fake.loaded = 0;
}

static uint8_t *tensor(void *ctx, int output, uint32_t index, uint32_t *bytes)
{
    (void)ctx;
    FUZZ_CHECK(fake.loaded);
    if (index != 0) {
        return NULL;
    }
    *bytes = output ? OUTPUT_BYTES : INPUT_BYTES;
    return output ? fake.output : fake.input;
}

static int invoke(void *ctx, uint32_t *latency_us, uint64_t *cycles)
{
    (void)ctx;
    FUZZ_CHECK(fake.loaded);
    uint8_t sum = 0;
    for (uint32_t i = 0; i < fake.model_size; i++) {
        sum += fake.model[i]; /* the model is still mapped, or ASan says so */
    }
    for (int i = 0; i < OUTPUT_BYTES; i++) {
        fake.output[i] = (uint8_t)(sum + fake.input[i % INPUT_BYTES]);
    }
    *latency_us = 1234;
    *cycles = 296160;
    return fake.invoke_fails ? ESPML_ERR_INVOKE_FAILED : ESPML_OK;
}

/* One op per model byte (up to 65535), so that answers both fit and overflow ESPML_PROFILE_OPS. */
static int profile(void *ctx, espml_op_time_t *ops, uint32_t max_ops, uint32_t *op_count, uint32_t *latency_us)
{
    uint64_t cycles;
    int err = invoke(ctx, latency_us, &cycles);
    *op_count = fake.model_size & 0xFFFF;
    for (uint32_t i = 0; i < *op_count && i < max_ops; i++) {
        ops[i].code = (uint8_t)i;
        ops[i].time_us = i;
    }
    return err;
}

static uint32_t arena_used(void *ctx)
{
    (void)ctx;
    FUZZ_CHECK(fake.loaded);
    return 12345;
}

static void memory(void *ctx, espml_memory_t *m)
{
    (void)ctx;
    m->heap_free = 200000, m->heap_free_min = 150000, m->psram_free = 0, m->stack_high_water = 1024;
}

static void current_start(void *ctx) { (void)ctx; }

static int current_end(void *ctx, espml_current_t *c)
{
    (void)ctx;
    c->mean_ma = 60.5f, c->peak_ma = 80.25f, c->bus_v = 3.3f;
    return fake.port.has_current_sensor;
}

static void restart(void *ctx)
{
    (void)ctx;
    longjmp(fake.reboot, 1); /* a real chip does not return from esp_restart() */
}

/* --- the harness ------------------------------------------------------------------------------ */
static void boot_only(void)
{
    for (int slot = 0; slot < 2; slot++) { /* a restart drops every mapping and the interpreter */
        fake.mapped[slot] = 0;
        POISON(fake.slot[slot], fake.slot_size);
    }
    fake.loaded = 0;
    espml_device_init(fake.device, &fake.port);
    espml_device_boot(fake.device);
}

/* A restart does not change which model runs: the one that ran before (or none) runs after. */
static void boot(void)
{
    espml_device_t *d = fake.device;
    int had = d->model_ready;
    uint8_t sha[32];
    if (had) {
        memcpy(sha, d->store.header[d->active].payload_sha256, 32);
    }
    boot_only();
    FUZZ_CHECK(d->model_ready == had);
    FUZZ_CHECK(!had || memcmp(d->store.header[d->active].payload_sha256, sha, 32) == 0);
}

/* Feed bytes; a RESET inside them reboots the device and drops the rest, as a chip would. */
static int feed(const uint8_t *bytes, size_t length)
{
    if (setjmp(fake.reboot) != 0) {
        boot();
        return 1;
    }
    espml_device_feed(fake.device, bytes, length);
    return 0;
}

static uint16_t next_seq;

/* One request: exactly one answer, with its seq, of its type or ERROR. */
static void request(uint8_t version, uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *payload, size_t length)
{
    static uint8_t scratch[8192 + ESPML_FRAME_OVERHEAD], wire[ESPML_COBS_MAX_ENCODED(sizeof scratch) + 2];
    espml_frame_t frame = {version, type, flags, seq, payload, length};
    size_t n = espml_frame_encode(&frame, scratch, sizeof scratch, wire, sizeof wire);
    FUZZ_CHECK(n > 0);
    static const uint8_t delimiter = 0;
    feed(&delimiter, 1); /* ends a torn frame left by a RAW record: its answer is not ours */
    unsigned before = fake.answers;
    feed(wire, n);
    unsigned answers = fake.answers - before;
    if (n - 2 <= ESPML_WIRE_MAX) { /* the encoded run fits the device's buffer */
        FUZZ_CHECK(answers == 1);
        FUZZ_CHECK(fake.answer_seq == seq && (fake.answer_type == type || fake.answer_type == ERROR));
    } else {
        FUZZ_CHECK(answers == 0); /* longer than the device's buffer: dropped as garbage */
    }
}

static void simple(uint8_t type, const uint8_t *payload, size_t length)
{
    request(ESPML_PROTOCOL_VERSION, type, 0, ++next_seq, payload, length);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void upload(uint8_t tag, fuzz_input_t *in)
{
    size_t want = fuzz_u16(in) & 0x3FFF, chunk = ((size_t)fuzz_u8(in) + 1) * 16;
    const uint8_t *model;
    size_t size = fuzz_bytes(in, want, &model);
    uint8_t begin[36], data[4 + 4096];
    put32(begin, (uint32_t)size);
    espml_sha256(model, size, begin + 4);
    simple(MODEL_BEGIN, begin, sizeof begin);
    for (size_t at = 0; at < size; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        put32(data, (uint32_t)at);
        memcpy(data + 4, model + at, n);
        for (int i = 0; i < (tag & 0x40 ? 2 : 1); i++) {
            simple(MODEL_DATA, data, 4 + n);
        }
    }
    simple(MODEL_END, NULL, 0);
    if (tag & 0x80) {
        request(ESPML_PROTOCOL_VERSION, MODEL_END, 0, next_seq, NULL, 0); /* the host missed the answer */
    }
}

static void image(uint8_t tag, fuzz_input_t *in)
{
    int slot = tag >> 7;
    uint8_t sequence = fuzz_u8(in);
    size_t want = fuzz_u16(in) & 0x3FFF;
    const uint8_t *model;
    size_t size = fuzz_bytes(in, want, &model);
    uint8_t *s = fake.slot[slot];
    UNPOISON(s, fake.slot_size);
    memset(s, 0xFF, fake.slot_size);
    if (tag & 0x40) {
        memcpy(s, model, size < fake.slot_size ? size : fake.slot_size);
    } else if (size <= fake.slot_size - ESPML_IMAGE_HEADER_SIZE) {
        memset(s, 0, ESPML_IMAGE_HEADER_SIZE);
        memcpy(s, "EMLI", 4);
        s[4] = ESPML_IMAGE_FORMAT_VERSION;
        s[6] = ESPML_IMAGE_HEADER_SIZE & 0xFF, s[7] = ESPML_IMAGE_HEADER_SIZE >> 8;
        put32(s + 8, (uint32_t)size);
        put32(s + 12, sequence);
        espml_sha256(model, size, s + 16);
        put32(s + 120, espml_crc32(s, 120));
        memcpy(s + ESPML_IMAGE_HEADER_SIZE, model, size);
    }
    boot_only(); /* flash changed under the firmware: any valid model may run now */
}

static void run(fuzz_input_t *in)
{
    uint8_t index = fuzz_u8(in);
    const uint8_t *bytes;
    size_t n = fuzz_bytes(in, fuzz_u8(in), &bytes);
    uint8_t chunk[9 + INPUT_BYTES];
    memset(chunk, 0, sizeof chunk);
    chunk[0] = index % 2;
    put32(chunk + 5, INPUT_BYTES);
    memcpy(chunk + 9, bytes, n < INPUT_BYTES ? n : INPUT_BYTES);
    simple(SET_INPUT, chunk, sizeof chunk);
    simple(INVOKE, NULL, 0);
    uint8_t get[7] = {(uint8_t)(index >> 7), (uint8_t)(index & 0x7F), 0, 0, 0, 0xFF, 0xFF};
    simple(GET_OUTPUT, get, sizeof get);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t slot_sizes[4] = {4096, 8192, 16384, 65536};
    fuzz_input_t in = {data, size, 0};
    uint8_t config = fuzz_u8(&in), faults = fuzz_u8(&in);

    memset(&fake, 0, sizeof fake);
    next_seq = 0;
    fake.slot_size = slot_sizes[config & 3];
    fake.load_mode = (config >> 2) & 3;
    fake.invoke_fails = (config >> 4) & 1;
    fake.log_in_write = (config >> 6) & 1;
    fake.fault_at = faults;
    for (int slot = 0; slot < 2; slot++) {
        fake.slot[slot] = malloc(fake.slot_size);
        FUZZ_CHECK(fake.slot[slot] != NULL);
        memset(fake.slot[slot], 0xFF, fake.slot_size);
    }
    fake.input = malloc(INPUT_BYTES);
    fake.output = malloc(OUTPUT_BYTES);
    fake.device = malloc(sizeof *fake.device);
    fake.rx = malloc(ESPML_WIRE_MAX);
    fake.rx_decoded = malloc(ESPML_WIRE_MAX);
    FUZZ_CHECK(fake.input && fake.output && fake.device && fake.rx && fake.rx_decoded);
    memset(fake.input, 0, INPUT_BYTES);
    memset(fake.output, 0, OUTPUT_BYTES);
    espml_decoder_init(&fake.decoder, fake.rx, fake.rx_decoded, ESPML_WIRE_MAX);

    espml_port_t *port = &fake.port;
    port->board = "fuzz";
    port->cpu_mhz = 240;
    port->simulated = 1;
    port->firmware_name = "espml-fw";
    port->firmware_version = "fuzz";
    port->write = on_write;
    port->slot_size = fake.slot_size;
    port->flash_erase = flash_erase;
    port->flash_write = flash_write;
    port->flash_map = flash_map;
    port->flash_unmap = flash_unmap;
    port->arena_size = 100000;
    port->model_load = model_load;
    port->model_unload = model_unload;
    port->tensor = tensor;
    port->invoke = invoke;
    port->profile = (config >> 7) & 1 ? NULL : profile;
    port->arena_used = arena_used;
    port->memory = memory;
    port->current_start = current_start;
    port->current_end = current_end;
    port->has_current_sensor = (config >> 5) & 1;
    port->restart = restart;
    memset(fake.device, 0, sizeof *fake.device);
    boot_only();

    while (fuzz_left(&in)) {
        uint8_t tag = fuzz_u8(&in);
        const uint8_t *bytes;
        size_t n;
        switch (tag % 8) {
            case 0:
                n = fuzz_bytes(&in, fuzz_u8(&in), &bytes);
                feed(bytes, n);
                break;
            case 1: {
                uint8_t type = fuzz_u8(&in);
                uint8_t version = tag & 0x80 ? fuzz_u8(&in) : ESPML_PROTOCOL_VERSION;
                uint8_t flags = tag & 0x40 ? fuzz_u8(&in) : 0;
                uint16_t seq = fuzz_u16(&in);
                n = fuzz_bytes(&in, fuzz_u16(&in) & 0x1FFF, &bytes);
                request(version, type, flags, seq, bytes, n);
                break;
            }
            case 2: upload(tag, &in); break;
            case 3: image(tag, &in); break;
            case 4: boot(); break;
            case 5:
                n = fuzz_bytes(&in, fuzz_u8(&in), &bytes);
                espml_device_debug_write(fake.device, (const char *)bytes, n);
                break;
            case 6:
                n = fuzz_bytes(&in, fuzz_u8(&in), &bytes);
                espml_device_log(fake.device, (tag >> 4) & 3, "%.*s", (int)n, (const char *)bytes);
                break;
            default: run(&in); break;
        }
    }
    simple(HELLO, NULL, 0); /* whatever happened, the device still answers */

    for (int slot = 0; slot < 2; slot++) {
        UNPOISON(fake.slot[slot], fake.slot_size);
        free(fake.slot[slot]);
    }
    free(fake.input);
    free(fake.output);
    free(fake.device);
    free(fake.rx);
    free(fake.rx_decoded);
    return 0;
}
