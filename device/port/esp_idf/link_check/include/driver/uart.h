/* Declaration-only mirror for the link check: only what the port uses, from uart.h and the type
 * headers it includes.
 *   v5.2:        components/driver/uart/include/driver/uart.h
 *   v5.3 .. 5.5: components/esp_driver_uart/include/driver/uart.h (`driver` keeps a public
 *                dependency on esp_driver_uart, so REQUIRES driver covers 5.2-5.5)
 *   components/hal/include/hal/uart_types.h (uart_config_t and the enums),
 *   components/soc/esp32s3/include/soc/clk_tree_defs.h (the ESP32-S3's UART clock sources).
 * The function signatures are the same in v5.2 .. v5.5. uart_config_t puts source_clk in an
 * anonymous union (with lp_source_clk on chips with an LP UART; the ESP32-S3 has none) and, in
 * the later releases, adds a flags struct after it: the port zero-initialises the struct and sets
 * members by name, so both layouts get the defaults. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hal/uart_types.h */
typedef enum {
    UART_NUM_0 = 0,
    UART_NUM_1 = 1,
    UART_NUM_2 = 2,
} uart_port_t;

typedef enum {
    UART_DATA_8_BITS = 0x3,
} uart_word_length_t;

typedef enum {
    UART_STOP_BITS_1 = 0x1,
} uart_stop_bits_t;

typedef enum {
    UART_PARITY_DISABLE = 0x0,
} uart_parity_t;

typedef enum {
    UART_HW_FLOWCTRL_DISABLE = 0x0,
} uart_hw_flowcontrol_t;

/* soc/esp32s3/include/soc/clk_tree_defs.h: soc_periph_uart_clk_src_legacy_t, the default is APB
 * (SOC_MOD_CLK_APB, the 4th entry of soc_module_clk_t). */
typedef enum {
    UART_SCLK_APB = 4,
    UART_SCLK_DEFAULT = 4,
} soc_periph_uart_clk_src_legacy_t;
typedef soc_periph_uart_clk_src_legacy_t uart_sclk_t;

typedef struct {
    int baud_rate;
    uart_word_length_t data_bits;
    uart_parity_t parity;
    uart_stop_bits_t stop_bits;
    uart_hw_flowcontrol_t flow_ctrl;
    uint8_t rx_flow_ctrl_thresh;
    union {
        uart_sclk_t source_clk;
    };
#if LINK_CHECK_IDF_MINOR >= 5
    struct {
        uint32_t allow_pd: 1;
        uint32_t backup_before_sleep: 1;
    } flags;
#endif
} uart_config_t;

/* driver/uart.h */
esp_err_t uart_driver_install(uart_port_t uart_num, int rx_buffer_size, int tx_buffer_size, int queue_size, QueueHandle_t *uart_queue, int intr_alloc_flags);

esp_err_t uart_param_config(uart_port_t uart_num, const uart_config_t *uart_config);

/* Copies all of `size` into the TX ring buffer, waiting for room as the UART sends (it always
 * does: no flow control here); the number of bytes pushed, or -1 on a parameter error. */
int uart_write_bytes(uart_port_t uart_num, const void *src, size_t size);

int uart_read_bytes(uart_port_t uart_num, void *buf, uint32_t length, TickType_t ticks_to_wait);

#ifdef __cplusplus
}
#endif
