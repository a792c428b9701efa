/* Declaration-only mirror for the link check: only what the port uses.
 * components/esp_app_format/include/esp_app_desc.h (v5.2). Component: esp_app_format (not a common
 * requirement: device/main/CMakeLists.txt REQUIRES it).
 * v5.4 and v5.5 split reserv2[20] into min_efuse_blk_rev_full, max_efuse_blk_rev_full,
 * mmu_page_size, reserv3[3], reserv2[18]; version and project_name are unchanged. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t magic_word;
    uint32_t secure_version;
    uint32_t reserv1[2];
    char version[32];
    char project_name[32];
    char time[16];
    char date[16];
    char idf_ver[32];
    uint8_t app_elf_sha256[32];
    uint32_t reserv2[20];
} esp_app_desc_t;

const esp_app_desc_t *esp_app_get_description(void);

#ifdef __cplusplus
}
#endif
