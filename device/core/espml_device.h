/* The firmware's application: the protocol handler (docs/protocol.md) over the port, the model
 * slots, and log lines as LOG frames. Feed it the bytes that arrive; it answers through the port. */
#ifndef ESPML_DEVICE_H
#define ESPML_DEVICE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "espml_cobs.h"
#include "espml_frame.h"
#include "espml_port.h"
#include "espml_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESPML_MAX_PAYLOAD 4096 /* announced in INFO: the host never sends more */
#define ESPML_RAW_MAX (ESPML_MAX_PAYLOAD + ESPML_FRAME_OVERHEAD)
#define ESPML_WIRE_MAX (ESPML_COBS_MAX_ENCODED(ESPML_RAW_MAX) + 2)
#define ESPML_LOG_LINE 200     /* longest log line; longer ones are cut */
#define ESPML_LOG_QUEUE 1024   /* log lines produced while a frame is being sent wait here */
#define ESPML_PROFILE_OPS 256  /* ops a PROFILE answer lists; it says how many more ran */

enum { ESPML_LOG_ERROR = 0, ESPML_LOG_WARNING = 1, ESPML_LOG_INFO = 2, ESPML_LOG_DEBUG = 3 };

typedef struct {
    const espml_port_t *port;
    espml_store_t store;
    int active;                        /* the slot whose model is loaded, -1 for none */
    int model_ready, invoked;
    uint16_t load_error;               /* why no model runs */
    char load_why[120];
    int current_valid;
    espml_current_t current;           /* over the last INVOKE */
    espml_op_time_t profile[ESPML_PROFILE_OPS];

    espml_decoder_t decoder;
    uint8_t rx_encoded[ESPML_WIRE_MAX], rx_decoded[ESPML_WIRE_MAX];
    uint8_t tx_raw[ESPML_RAW_MAX], tx_wire[ESPML_WIRE_MAX];
    uint8_t answer[ESPML_MAX_PAYLOAD];
    int sending;                       /* depth: a log line while sending waits in log_queue */
    uint16_t log_seq;
    uint8_t log_queue[ESPML_LOG_QUEUE];
    size_t log_queued;
    uint32_t logs_dropped;
    char debug_line[ESPML_LOG_LINE];   /* raw text (TFLite-Micro's DebugLog) gathered into lines */
    size_t debug_length;

    struct {                           /* MODEL_END's answer, for a host that did not hear it */
        int valid;
        uint16_t seq;
        uint8_t type;
        uint8_t payload[ESPML_LOG_LINE];
        size_t length;
    } end_answer;
} espml_device_t;

void espml_device_init(espml_device_t *device, const espml_port_t *port);
/* Verify both slots and load the newest that runs; logs what it chose. */
void espml_device_boot(espml_device_t *device);
/* Bytes from the host: each whole frame is handled and answered before the next is read. */
void espml_device_feed(espml_device_t *device, const uint8_t *bytes, size_t length);

/* A log line as a LOG frame. Safe while a frame is being sent (it is queued and follows it). */
void espml_device_log(espml_device_t *device, int level, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void espml_device_vlog(espml_device_t *device, int level, const char *format, va_list args);
/* Raw text (stderr, TFLite-Micro's debug output): gathered into lines, each sent as a LOG frame. */
void espml_device_debug_write(espml_device_t *device, const char *text, size_t length);

#ifdef __cplusplus
}
#endif

#endif
