/* Declaration-only mirror for the link check: only what the port uses.
 * components/heap/include/esp_heap_caps.h (v5.2; unchanged in v5.5).
 * Component: heap, a common requirement (tools/cmake/build.cmake requires_common); listing it in
 * REQUIRES is harmless. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MALLOC_CAP_8BIT             (1<<2)
#define MALLOC_CAP_SPIRAM           (1<<10)
#define MALLOC_CAP_INTERNAL         (1<<11)

void *heap_caps_malloc(size_t size, uint32_t caps);

size_t heap_caps_get_total_size(uint32_t caps);

size_t heap_caps_get_free_size(uint32_t caps);

size_t heap_caps_get_minimum_free_size(uint32_t caps);

#ifdef __cplusplus
}
#endif
