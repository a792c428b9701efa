/* What the portable core needs from the board it runs on. The ESP-IDF port (port/esp_idf) fills it
 * with esp_partition, TFLite-Micro, heap_caps and the INA219; the host port (port/host) with a
 * file-backed NOR flash and callbacks into the virtual board. Every function gets `ctx`. */
#ifndef ESPML_PORT_H
#define ESPML_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESPML_SECTOR 4096 /* the flash erase unit */

/* Results of the port's functions that can fail: 0 or one of the protocol's error codes. */
enum {
    ESPML_OK = 0,
    ESPML_ERR_BAD_PAYLOAD = 2,
    ESPML_ERR_NO_MODEL = 4,
    ESPML_ERR_MODEL_INVALID = 5,
    ESPML_ERR_MODEL_TOO_LARGE = 6,
    ESPML_ERR_ARENA_TOO_SMALL = 7,
    ESPML_ERR_UNSUPPORTED_OP = 8,
    ESPML_ERR_BAD_TENSOR = 9,
    ESPML_ERR_INVOKE_FAILED = 10,
    ESPML_ERR_UPLOAD_STATE = 11,
    ESPML_ERR_FLASH_WRITE = 12,
};

typedef struct {
    uint32_t heap_free;       /* internal RAM, bytes */
    uint32_t heap_free_min;   /* the lowest it has been since boot */
    uint32_t psram_free;
    uint32_t stack_high_water; /* bytes of the protocol task's stack never used */
} espml_memory_t;

typedef struct {
    float mean_ma, peak_ma, bus_v;
} espml_current_t;

/* One op of a profiled inference, in the order TFLite-Micro ran it: its builtin code
 * (ESPML_OP_CODE_OTHER for a custom op or one the schema lacks) and the time its Invoke took. */
typedef struct {
    uint8_t code;
    uint32_t time_us;
} espml_op_time_t;

#define ESPML_OP_CODE_OTHER 0xFF

typedef struct {
    void *ctx;

    /* The chip and the firmware image, as the board reports them in INFO. */
    const char *board;
    uint16_t cpu_mhz;
    int simulated;              /* every figure comes from a model, not a measurement */
    const char *firmware_name, *firmware_version;

    /* Transport: bytes to the host, whole frames at a time. */
    void (*write)(void *ctx, const uint8_t *bytes, size_t length);
    /* Serialises senders (a recursive lock: a log line can be produced while a frame is sent).
     * May be NULL on a single-threaded port. */
    void (*lock)(void *ctx);
    void (*unlock)(void *ctx);

    /* Flash: two model slots of `slot_size` bytes each, erased in ESPML_SECTOR units. */
    uint32_t slot_size;
    int (*flash_erase)(void *ctx, int slot, uint32_t offset, uint32_t length);
    int (*flash_write)(void *ctx, int slot, uint32_t offset, const uint8_t *data, uint32_t length);
    /* A read-only view of a whole slot (memory-mapped flash), or NULL; released by flash_unmap. */
    const uint8_t *(*flash_map)(void *ctx, int slot);
    void (*flash_unmap)(void *ctx, int slot);

    /* Inference. `model` stays mapped while it is loaded. load returns ESPML_OK or an error code
     * and writes why into `why`. */
    uint32_t arena_size;
    int (*model_load)(void *ctx, const uint8_t *model, uint32_t size, char *why, size_t why_size);
    void (*model_unload)(void *ctx);
    uint8_t *(*tensor)(void *ctx, int output, uint32_t index, uint32_t *bytes); /* NULL: no such tensor */
    int (*invoke)(void *ctx, uint32_t *latency_us, uint64_t *cycles);
    /* The inference marker: the core drives it high (1) just before each Invoke() (INVOKE and
     * PROFILE) and low (0) right after, so a power meter's logic input sees each window. NULL: no
     * marker pin is configured. */
    void (*marker)(void *ctx, int high);
    /* Invoke once with every op timed: up to max_ops entries in `ops`, the number of ops that ran
     * (which may be more) in *op_count, the whole Invoke() in *latency_us. NULL: cannot profile. */
    int (*profile)(void *ctx, espml_op_time_t *ops, uint32_t max_ops, uint32_t *op_count, uint32_t *latency_us);
    uint32_t (*arena_used)(void *ctx);

    /* Chip state. current_end returns 0 when no sensor is fitted. */
    void (*memory)(void *ctx, espml_memory_t *memory);
    void (*current_start)(void *ctx);
    int (*current_end)(void *ctx, espml_current_t *current);
    int has_current_sensor;
    /* Restart the chip; on a real chip this does not return. */
    void (*restart)(void *ctx);
} espml_port_t;

#ifdef __cplusplus
}
#endif

#endif
