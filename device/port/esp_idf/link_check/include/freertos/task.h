/* Declaration-only mirror for the link check: only what the port uses.
 * components/freertos/FreeRTOS-Kernel/include/freertos/task.h (v5.2; the same in v5.5), and for
 * xTaskCreatePinnedToCore components/freertos/esp_additions/include/freertos/idf_additions.h. */
#pragma once

#ifndef INC_FREERTOS_H
    #error "include FreeRTOS.h must appear in source files before include task.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tskTaskControlBlock * TaskHandle_t;

#define tskNO_AFFINITY      ( ( BaseType_t ) 0x7FFFFFFF )

#define taskENTER_CRITICAL( x )            portENTER_CRITICAL( x )
#define taskEXIT_CRITICAL( x )             portEXIT_CRITICAL( x )

/* freertos/idf_additions.h (included by the real FreeRTOS headers): a task pinned to one core. */
BaseType_t xTaskCreatePinnedToCore( TaskFunction_t pxTaskCode,
                                    const char * const pcName,
                                    const configSTACK_DEPTH_TYPE usStackDepth,
                                    void * const pvParameters,
                                    UBaseType_t uxPriority,
                                    TaskHandle_t * const pvCreatedTask,
                                    const BaseType_t xCoreID );

/* In ESP-IDF, xTaskCreate is a static inline function (configSUPPORT_DYNAMIC_ALLOCATION == 1) that
 * declares and calls xTaskCreatePinnedToCore(..., tskNO_AFFINITY). */
#if ( configSUPPORT_DYNAMIC_ALLOCATION == 1 )
static inline __attribute__( ( always_inline ) )
BaseType_t xTaskCreate( TaskFunction_t pxTaskCode,
                        const char * const pcName,
                        const configSTACK_DEPTH_TYPE usStackDepth,
                        void * const pvParameters,
                        UBaseType_t uxPriority,
                        TaskHandle_t * const pxCreatedTask )
{
    extern BaseType_t xTaskCreatePinnedToCore( TaskFunction_t pxTaskCode,
                                               const char * const pcName,
                                               const configSTACK_DEPTH_TYPE usStackDepth,
                                               void * const pvParameters,
                                               UBaseType_t uxPriority,
                                               TaskHandle_t * const pvCreatedTask,
                                               const BaseType_t xCoreID );

    return xTaskCreatePinnedToCore( pxTaskCode,
                                    pcName,
                                    usStackDepth,
                                    pvParameters,
                                    uxPriority,
                                    pxCreatedTask,
                                    tskNO_AFFINITY );
}
#endif

void vTaskDelay( const TickType_t xTicksToDelay );

UBaseType_t uxTaskGetStackHighWaterMark( TaskHandle_t xTask );

#ifdef __cplusplus
}
#endif
