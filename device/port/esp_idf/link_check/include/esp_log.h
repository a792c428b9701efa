/* Declaration-only mirror for the link check: only what the port uses (ESP_LOGE/W/I,
 * esp_log_set_vprintf), down to the function each macro ends in.
 *
 * v5.2 .. v5.4: ESP_LOGx -> ESP_LOG_LEVEL_LOCAL -> ESP_LOG_LEVEL -> esp_log_write(level, tag, fmt, ...)
 *               (components/log/include/esp_log.h)
 * v5.5:         ESP_LOGx -> ESP_LOG_LEVEL_LOCAL -> ESP_LOG_LEVEL -> esp_log(esp_log_config_t, tag, fmt, ...)
 *               (components/log/include/esp_log.h, esp_log_config.h, esp_log_level.h,
 *                esp_log_format.h, esp_log_color.h, esp_log_timestamp.h, esp_log_write.h)
 * Both: the __VA_OPT__ variants, taken when __cplusplus > 201703L: ESP-IDF compiles C++ with
 * -std=gnu++2b (tools/cmake/build.cmake, v5.2: cxx_std gnu++2b; v5.5: -std=gnu++2b). */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>

#include "esp_rom_sys.h"
#include "sdkconfig.h"

#if !defined(__cplusplus) || __cplusplus <= 201703L
#error "the link check models ESP-IDF's C++ build (-std=gnu++2b): the port is C++"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* components/log/include/esp_log.h (v5.2); esp_log_level.h (v5.5: the same values, written out,
 * plus ESP_LOG_MAX = 6) */
typedef enum {
    ESP_LOG_NONE,
    ESP_LOG_ERROR,
    ESP_LOG_WARN,
    ESP_LOG_INFO,
    ESP_LOG_DEBUG,
    ESP_LOG_VERBOSE
} esp_log_level_t;

/* components/log/include/esp_log.h (v5.2); esp_log_write.h (v5.5) */
typedef int (*vprintf_like_t)(const char *, va_list);
vprintf_like_t esp_log_set_vprintf(vprintf_like_t func);
void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* components/log/include/esp_log.h (v5.2); esp_log_timestamp.h (v5.5) */
uint32_t esp_log_timestamp(void);

/* components/log/include/esp_log.h (v5.2): #define LOG_LOCAL_LEVEL CONFIG_LOG_MAXIMUM_LEVEL;
 * esp_log_level.h (v5.5): the same for an application build. */
#ifndef LOG_LOCAL_LEVEL
#define LOG_LOCAL_LEVEL CONFIG_LOG_MAXIMUM_LEVEL
#endif

#if CONFIG_LOG_COLORS && LINK_CHECK_IDF_MINOR < 4
/* components/log/include/esp_log.h (v5.2, v5.3): colours when CONFIG_LOG_COLORS (Kconfig default y;
 * device/sdkconfig.defaults turns it off, so this branch is not taken) */
#define LOG_COLOR_RED     "31"
#define LOG_COLOR_BROWN   "33"
#define LOG_COLOR_GREEN   "32"
#define LOG_COLOR(COLOR)  "\033[0;" COLOR "m"
#define LOG_RESET_COLOR   "\033[0m"
#define LOG_COLOR_E       LOG_COLOR(LOG_COLOR_RED)
#define LOG_COLOR_W       LOG_COLOR(LOG_COLOR_BROWN)
#define LOG_COLOR_I       LOG_COLOR(LOG_COLOR_GREEN)
#define LOG_COLOR_D
#define LOG_COLOR_V
#else
/* v5.2, v5.3 without CONFIG_LOG_COLORS: the #else of esp_log.h, empty colours;
 * v5.4: components/log/include/esp_log_color.h, CONFIG_LOG_COLORS now default n (#if CONFIG_LOG_COLORS
 * ... #else); v5.5: esp_log_color.h, ESP_LOG_COLOR_DISABLED (1) (esp_log_config.h: !CONFIG_LOG_COLORS) */
#define LOG_RESET_COLOR   ""
#define LOG_COLOR_E       ""
#define LOG_COLOR_W       ""
#define LOG_COLOR_I       ""
#define LOG_COLOR_D       ""
#define LOG_COLOR_V       ""
#endif

/* components/log/include/esp_log.h (v5.2); esp_log_format.h (v5.5) */
#define LOG_FORMAT(letter, format)  LOG_COLOR_ ## letter #letter " (%" PRIu32 ") %s: " format LOG_RESET_COLOR "\n"

#if LINK_CHECK_IDF_MINOR < 5

/* components/log/include/esp_log.h (v5.2; the same in v5.3, v5.4), CONFIG_LOG_TIMESTAMP_SOURCE_RTOS,
 * __cplusplus > 201703L */
#define ESP_LOG_LEVEL(level, tag, format, ...) do {                     \
        if (level==ESP_LOG_ERROR )          { esp_log_write(ESP_LOG_ERROR,      tag, LOG_FORMAT(E, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (level==ESP_LOG_WARN )      { esp_log_write(ESP_LOG_WARN,       tag, LOG_FORMAT(W, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (level==ESP_LOG_DEBUG )     { esp_log_write(ESP_LOG_DEBUG,      tag, LOG_FORMAT(D, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (level==ESP_LOG_VERBOSE )   { esp_log_write(ESP_LOG_VERBOSE,    tag, LOG_FORMAT(V, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else                                { esp_log_write(ESP_LOG_INFO,       tag, LOG_FORMAT(I, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
    } while(0)

/* components/log/include/esp_log.h (v5.2), without CONFIG_LOG_MASTER_LEVEL */
#define ESP_LOG_LEVEL_LOCAL(level, tag, format, ...) do {               \
        if ( LOG_LOCAL_LEVEL >= level ) ESP_LOG_LEVEL(level, tag, format, ##__VA_ARGS__); \
    } while(0)

#define ESP_LOGE( tag, format, ... ) ESP_LOG_LEVEL_LOCAL(ESP_LOG_ERROR,   tag, format __VA_OPT__(,) __VA_ARGS__)
#define ESP_LOGW( tag, format, ... ) ESP_LOG_LEVEL_LOCAL(ESP_LOG_WARN,    tag, format __VA_OPT__(,) __VA_ARGS__)
#define ESP_LOGI( tag, format, ... ) ESP_LOG_LEVEL_LOCAL(ESP_LOG_INFO,    tag, format __VA_OPT__(,) __VA_ARGS__)

#else /* v5.5 */

/* components/log/include/esp_log_level.h (v5.5) */
#define ESP_LOG_LEVEL_LEN   (3)
#define ESP_LOG_LEVEL_MASK  ((1 << ESP_LOG_LEVEL_LEN) - 1)
#define ESP_LOG_GET_LEVEL(config)  ((config) & ESP_LOG_LEVEL_MASK)
#define ESP_LOG_ENABLED(configs) (LOG_LOCAL_LEVEL >= ESP_LOG_GET_LEVEL(configs))
#define _ESP_LOG_ENABLED(log_level) ESP_LOG_ENABLED(log_level)

/* components/log/include/esp_log_config.h (v5.5). Only `data` of the union is used by the macros
 * (the `opts` bit-fields that share it are left out). */
typedef struct {
    union {
        uint32_t data;
    };
} esp_log_config_t;

#if defined(__cplusplus)
#define ESP_LOG_CONFIG_INIT(configs) (__extension__({ \
    esp_log_config_t __esp_log_config; \
    __esp_log_config.data = (configs); \
    __esp_log_config;}))
#endif

/* components/log/include/esp_log.h (v5.5) */
void esp_log(esp_log_config_t config, const char *tag, const char *format, ...);

/* components/log/include/esp_log.h (v5.5): ESP_LOG_VERSION == 1 (CONFIG_LOG_VERSION default 1),
 * CONFIG_LOG_TIMESTAMP_SOURCE_RTOS, __cplusplus > 201703L */
#define ESP_LOG_LEVEL(configs, tag, format, ...) do { \
        if (ESP_LOG_GET_LEVEL(configs)==ESP_LOG_ERROR)        { esp_log(ESP_LOG_CONFIG_INIT(ESP_LOG_ERROR),   tag, LOG_FORMAT(E, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (ESP_LOG_GET_LEVEL(configs)==ESP_LOG_WARN)    { esp_log(ESP_LOG_CONFIG_INIT(ESP_LOG_WARN),    tag, LOG_FORMAT(W, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (ESP_LOG_GET_LEVEL(configs)==ESP_LOG_DEBUG)   { esp_log(ESP_LOG_CONFIG_INIT(ESP_LOG_DEBUG),   tag, LOG_FORMAT(D, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else if (ESP_LOG_GET_LEVEL(configs)==ESP_LOG_VERBOSE) { esp_log(ESP_LOG_CONFIG_INIT(ESP_LOG_VERBOSE), tag, LOG_FORMAT(V, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
        else                                                  { esp_log(ESP_LOG_CONFIG_INIT(ESP_LOG_INFO),    tag, LOG_FORMAT(I, format), esp_log_timestamp(), tag __VA_OPT__(,) __VA_ARGS__); } \
    } while(0)

#define ESP_LOG_LEVEL_LOCAL(configs, tag, format, ...) do { if (_ESP_LOG_ENABLED(configs)) { ESP_LOG_LEVEL(configs, tag, format __VA_OPT__(,) __VA_ARGS__); } } while(0)

#define ESP_LOGE(tag, format, ...) do { ESP_LOG_LEVEL_LOCAL(ESP_LOG_ERROR, tag, format __VA_OPT__(,) __VA_ARGS__); } while(0)
#define ESP_LOGW(tag, format, ...) do { ESP_LOG_LEVEL_LOCAL(ESP_LOG_WARN, tag, format __VA_OPT__(,) __VA_ARGS__); } while(0)
#define ESP_LOGI(tag, format, ...) do { ESP_LOG_LEVEL_LOCAL(ESP_LOG_INFO, tag, format __VA_OPT__(,) __VA_ARGS__); } while(0)

#endif

#ifdef __cplusplus
}
#endif
