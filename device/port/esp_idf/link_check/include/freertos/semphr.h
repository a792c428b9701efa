/* Declaration-only mirror for the link check: only what the port uses.
 * components/freertos/FreeRTOS-Kernel/include/freertos/semphr.h (v5.2; the same in v5.5): the
 * recursive-mutex macros, and what they expand to from
 * components/freertos/FreeRTOS-Kernel/include/freertos/queue.h. */
#pragma once

#ifndef INC_FREERTOS_H
    #error "include FreeRTOS.h" must appear in source files before "include semphr.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* queue.h */
typedef struct QueueDefinition   * QueueHandle_t;
#define queueQUEUE_TYPE_RECURSIVE_MUTEX       ( ( uint8_t ) 4U )
QueueHandle_t xQueueCreateMutex( const uint8_t ucQueueType );
BaseType_t xQueueTakeMutexRecursive( QueueHandle_t xMutex,
                                     TickType_t xTicksToWait );
BaseType_t xQueueGiveMutexRecursive( QueueHandle_t xMutex );

/* semphr.h */
typedef QueueHandle_t SemaphoreHandle_t;
#if ( configSUPPORT_DYNAMIC_ALLOCATION == 1 ) && ( configUSE_RECURSIVE_MUTEXES == 1 )
#define xSemaphoreCreateRecursiveMutex()    xQueueCreateMutex( queueQUEUE_TYPE_RECURSIVE_MUTEX )
#endif
#if ( configUSE_RECURSIVE_MUTEXES == 1 )
#define xSemaphoreTakeRecursive( xMutex, xBlockTime )    xQueueTakeMutexRecursive( ( xMutex ), ( xBlockTime ) )
#define xSemaphoreGiveRecursive( xMutex )    xQueueGiveMutexRecursive( ( xMutex ) )
#endif

#ifdef __cplusplus
}
#endif
