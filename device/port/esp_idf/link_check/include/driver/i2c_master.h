/* Declaration-only mirror for the link check: only what the port uses, from i2c_master.h and the
 * type headers it includes. The new I2C master driver:
 *   v5.2:        components/driver/i2c/include/driver/i2c_master.h, driver/i2c_types.h
 *   v5.3 .. 5.5: components/esp_driver_i2c/include/driver/i2c_master.h, driver/i2c_types.h
 *   components/hal/include/hal/i2c_types.h, components/soc/esp32s3/include/soc/clk_tree_defs.h,
 *   components/soc/esp32s3/include/soc/gpio_num.h (via hal/gpio_types.h)
 * Component: `driver` in v5.2; from v5.3 `driver` keeps a public dependency on esp_driver_i2c
 * (components/driver/CMakeLists.txt), so REQUIRES driver covers 5.2-5.5.
 * The function signatures below are identical in v5.2.0 .. v5.5.x, i2c_master_probe included
 * (i2c_master_bus_handle_t, uint16_t address, int xfer_timeout_ms). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* soc/esp32s3/include/soc/gpio_num.h */
typedef enum {
    GPIO_NUM_8 = 8,
    GPIO_NUM_9 = 9,
} gpio_num_t;

/* soc/esp32s3/include/soc/clk_tree_defs.h: soc_module_clk_t starts at SOC_MOD_CLK_CPU = 1;
 * SOC_MOD_CLK_XTAL is its 11th entry. */
typedef enum {
    SOC_MOD_CLK_XTAL = 11,
} soc_module_clk_t;

typedef enum {
    I2C_CLK_SRC_XTAL = SOC_MOD_CLK_XTAL,
    I2C_CLK_SRC_DEFAULT = SOC_MOD_CLK_XTAL,
} soc_periph_i2c_clk_src_t;

/* hal/i2c_types.h */
typedef enum {
    I2C_NUM_0 = 0,
} i2c_port_t;

typedef enum {
    I2C_ADDR_BIT_LEN_7 = 0,
} i2c_addr_bit_len_t;

typedef soc_periph_i2c_clk_src_t i2c_clock_source_t;

/* driver/i2c_types.h */
typedef int i2c_port_num_t;
typedef struct i2c_master_bus_t *i2c_master_bus_handle_t;
typedef struct i2c_master_dev_t *i2c_master_dev_handle_t;

/* driver/i2c_master.h. v5.5 puts clk_source in an anonymous union (with lp_source_clk on chips
 * with an LP I2C; the ESP32-S3 has none) and adds flags.allow_pd; the members used are the same. */
typedef struct {
    i2c_port_num_t i2c_port;
    gpio_num_t sda_io_num;
    gpio_num_t scl_io_num;
#if LINK_CHECK_IDF_MINOR >= 5
    union {
        i2c_clock_source_t clk_source;
    };
#else
    i2c_clock_source_t clk_source;
#endif
    uint8_t glitch_ignore_cnt;
    int intr_priority;
    size_t trans_queue_depth;
    struct {
        uint32_t enable_internal_pullup:1;
    } flags;
} i2c_master_bus_config_t;

/* v5.2.0 and v5.2.1 end at scl_speed_hz; v5.2.2 (and 5.3 .. 5.5) add scl_wait_us (0: the
 * register's default) and flags.disable_ack_check after it. The port zero-initialises the struct
 * and sets the first three, so both layouts get the defaults. */
typedef struct {
    i2c_addr_bit_len_t dev_addr_length;
    uint16_t device_address;
    uint32_t scl_speed_hz;
#if LINK_CHECK_IDF_MINOR > 2 || LINK_CHECK_IDF_PATCH >= 2
    uint32_t scl_wait_us;
    struct {
        uint32_t disable_ack_check: 1;
    } flags;
#endif
} i2c_device_config_t;

esp_err_t i2c_new_master_bus(const i2c_master_bus_config_t *bus_config, i2c_master_bus_handle_t *ret_bus_handle);

esp_err_t i2c_master_bus_add_device(i2c_master_bus_handle_t bus_handle, const i2c_device_config_t *dev_config, i2c_master_dev_handle_t *ret_handle);

esp_err_t i2c_master_transmit(i2c_master_dev_handle_t i2c_dev, const uint8_t *write_buffer, size_t write_size, int xfer_timeout_ms);

esp_err_t i2c_master_transmit_receive(i2c_master_dev_handle_t i2c_dev, const uint8_t *write_buffer, size_t write_size, uint8_t *read_buffer, size_t read_size, int xfer_timeout_ms);

esp_err_t i2c_master_probe(i2c_master_bus_handle_t bus_handle, uint16_t address, int xfer_timeout_ms);

#ifdef __cplusplus
}
#endif
