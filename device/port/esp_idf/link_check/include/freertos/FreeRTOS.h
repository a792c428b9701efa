/* Declaration-only mirror for the link check: only what the port uses, from the headers that the
 * real freertos/FreeRTOS.h pulls in. ESP-IDF's FreeRTOS (not the SMP variant, CONFIG_FREERTOS_SMP
 * off by default), Xtensa port, v5.2 (the same in v5.5):
 *   components/freertos/FreeRTOS-Kernel/include/freertos/FreeRTOS.h
 *   components/freertos/config/include/freertos/FreeRTOSConfig.h
 *   components/freertos/FreeRTOS-Kernel/include/freertos/projdefs.h
 *   components/freertos/FreeRTOS-Kernel/portable/xtensa/include/freertos/portmacro.h
 *   components/esp_hw_support/include/spinlock.h
 * Component: freertos, a common requirement (tools/cmake/build.cmake requires_common). */
#pragma once
#define INC_FREERTOS_H

#include <stddef.h>
#include <stdint.h>

#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* FreeRTOSConfig.h */
#define configTICK_RATE_HZ                 CONFIG_FREERTOS_HZ
#define configUSE_RECURSIVE_MUTEXES        1
#define configSTACK_DEPTH_TYPE             uint32_t
#define configSUPPORT_DYNAMIC_ALLOCATION   1

/* portmacro.h (Xtensa): StackType_t is uint8_t, so stack depths and high-water marks are in bytes;
 * 32-bit ticks (FreeRTOSConfig.h: configUSE_16_BIT_TICKS 0) */
#define portSTACK_TYPE              uint8_t
#define portBASE_TYPE               int
typedef portSTACK_TYPE              StackType_t;
typedef portBASE_TYPE               BaseType_t;
typedef unsigned portBASE_TYPE      UBaseType_t;
typedef uint32_t TickType_t;
#define portMAX_DELAY ( TickType_t ) 0xffffffffUL

/* projdefs.h */
typedef void (* TaskFunction_t)( void * );
#define pdMS_TO_TICKS( xTimeInMs )    ( ( TickType_t ) ( ( ( TickType_t ) ( xTimeInMs ) * ( TickType_t ) configTICK_RATE_HZ ) / ( TickType_t ) 1000U ) )
#define pdTRUE                                   ( ( BaseType_t ) 1 )
#define pdPASS                                   ( pdTRUE )

/* spinlock.h */
#define SPINLOCK_FREE          0xB33FFFFF
#define SPINLOCK_WAIT_FOREVER  (-1)
#define SPINLOCK_INITIALIZER   {.owner = SPINLOCK_FREE,.count = 0}
typedef struct {
    volatile uint32_t owner;
    volatile uint32_t count;
} spinlock_t;

/* portmacro.h: critical sections. Without CONFIG_FREERTOS_CHECK_PORT_CRITICAL_COMPLIANCE (default
 * off) portENTER_CRITICAL is vPortEnterCritical, an always-inline call of xPortEnterCriticalTimeout
 * with portMUX_NO_TIMEOUT; portEXIT_CRITICAL is the function vPortExitCritical. */
typedef spinlock_t                          portMUX_TYPE;
#define portMUX_INITIALIZER_UNLOCKED        SPINLOCK_INITIALIZER
#define portMUX_NO_TIMEOUT                  SPINLOCK_WAIT_FOREVER

BaseType_t xPortEnterCriticalTimeout(portMUX_TYPE *mux, BaseType_t timeout);
void vPortExitCritical(portMUX_TYPE *mux);

static inline void __attribute__((always_inline)) vPortEnterCritical(portMUX_TYPE *mux)
{
    xPortEnterCriticalTimeout(mux, portMUX_NO_TIMEOUT);
}

#define portENTER_CRITICAL(mux)                     vPortEnterCritical(mux)
#define portEXIT_CRITICAL(mux)                      vPortExitCritical(mux)

#ifdef __cplusplus
}
#endif
