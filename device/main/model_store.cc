#include "model_store.h"

#include <cstring>

#include "esp_log.h"
#include "esp_partition.h"
#include "espml_crc32.h"
#include "mbedtls/sha256.h"

namespace {
constexpr const char *kTag = "espml.models";
constexpr uint8_t kModelSubtype = 0x40;
constexpr size_t kSector = 4096;
constexpr const char *kLabels[2] = {"model_a", "model_b"};

const esp_partition_t *slots[2];
esp_partition_mmap_handle_t mapping;
bool mapped;
ActiveModel active;

struct Upload {
    bool open = false;
    int slot = -1;
    size_t size = 0;
    size_t received = 0;
    uint8_t expected[32];
    uint8_t first_sector[kSector];  // header + model head: written last
    mbedtls_sha256_context sha;
} upload;

void sha256(const uint8_t *data, size_t length, uint8_t digest[32])
{
    mbedtls_sha256(data, length, digest, 0);
}

// Verify a slot in place through a temporary mapping. Returns 0 and the header when valid.
int verify(int index, espml_image_header_t *header)
{
    const void *base;
    esp_partition_mmap_handle_t handle;
    if (esp_partition_mmap(slots[index], 0, slots[index]->size, ESP_PARTITION_MMAP_DATA, &base, &handle) != ESP_OK) {
        return -1;
    }
    const uint8_t *payload;
    int result = espml_image_verify(static_cast<const uint8_t *>(base), slots[index]->size, sha256, header, &payload);
    esp_partition_munmap(handle);
    return result;
}

// docs/model_image.md: the 256-byte header for the model whose bytes are now in the slot.
// Tensor summaries stay zero (rank 0: not recorded) for uploads; espml flash fills them.
void build_header(uint32_t sequence, uint8_t header[256])
{
    std::memset(header, 0, 256);
    std::memcpy(header, "EMLI", 4);
    header[4] = 1;  // format version 1, little-endian
    header[7] = 1;  // header size 256, little-endian
    uint32_t length = static_cast<uint32_t>(upload.size);
    std::memcpy(header + 8, &length, 4);
    std::memcpy(header + 12, &sequence, 4);
    std::memcpy(header + 16, upload.expected, 32);
    uint32_t crc = espml_crc32(header, 120);
    std::memcpy(header + 120, &crc, 4);
}
}  // namespace

esp_err_t model_store_init()
{
    for (int i = 0; i < 2; i++) {
        slots[i] = esp_partition_find_first(ESP_PARTITION_TYPE_DATA,
                                            static_cast<esp_partition_subtype_t>(kModelSubtype), kLabels[i]);
        if (slots[i] == nullptr) {
            ESP_LOGE(kTag, "no %s partition: flash the firmware with device/partitions.csv", kLabels[i]);
            return ESP_ERR_NOT_FOUND;
        }
    }
    return model_store_reload();
}

esp_err_t model_store_reload()
{
    if (mapped) {
        esp_partition_munmap(mapping);
        mapped = false;
    }
    active = ActiveModel();
    espml_image_header_t headers[2];
    int valid[2] = {verify(0, &headers[0]), verify(1, &headers[1])};
    int chosen = espml_image_choose(valid[0], &headers[0], valid[1], &headers[1]);
    if (chosen < 0) {
        ESP_LOGW(kTag, "no valid model slot");
        return ESP_ERR_NOT_FOUND;
    }
    const void *base;
    esp_err_t err = esp_partition_mmap(slots[chosen], 0, slots[chosen]->size, ESP_PARTITION_MMAP_DATA, &base, &mapping);
    if (err != ESP_OK) {
        return err;
    }
    mapped = true;
    active.data = static_cast<const uint8_t *>(base) + ESPML_IMAGE_HEADER_SIZE;
    active.size = headers[chosen].payload_length;
    std::memcpy(active.sha256, headers[chosen].payload_sha256, 32);
    active.slot = chosen;
    ESP_LOGI(kTag, "model slot %c, sequence %u, %u bytes", "AB"[chosen], (unsigned)headers[chosen].sequence,
             (unsigned)active.size);
    return ESP_OK;
}

const ActiveModel &model_store_active() { return active; }

size_t model_slot_size() { return slots[0] ? slots[0]->size : 0; }

esp_err_t upload_begin(size_t size, const uint8_t sha256_expected[32], int *slot)
{
    if (size + ESPML_IMAGE_HEADER_SIZE > model_slot_size()) {
        return ESP_ERR_INVALID_SIZE;
    }
    upload.open = true;
    upload.slot = active.slot < 0 ? 0 : 1 - active.slot;  // never the slot that runs
    upload.size = size;
    upload.received = 0;
    std::memcpy(upload.expected, sha256_expected, 32);
    std::memset(upload.first_sector, 0xFF, sizeof upload.first_sector);
    mbedtls_sha256_init(&upload.sha);
    mbedtls_sha256_starts(&upload.sha, 0);
    size_t image = (size + ESPML_IMAGE_HEADER_SIZE + kSector - 1) / kSector * kSector;
    *slot = upload.slot;
    return esp_partition_erase_range(slots[upload.slot], 0, image);
}

esp_err_t upload_data(size_t offset, const uint8_t *data, size_t length)
{
    if (!upload.open || offset != upload.received || offset + length > upload.size) {
        return ESP_ERR_INVALID_STATE;  // chunks come in order, within the announced size
    }
    mbedtls_sha256_update(&upload.sha, data, length);
    size_t image_offset = ESPML_IMAGE_HEADER_SIZE + offset;
    while (length) {
        if (image_offset < kSector) {  // the first sector waits in RAM
            size_t n = length < kSector - image_offset ? length : kSector - image_offset;
            std::memcpy(upload.first_sector + image_offset, data, n);
            image_offset += n, data += n, length -= n, upload.received += n;
            continue;
        }
        esp_err_t err = esp_partition_write(slots[upload.slot], image_offset, data, length);
        if (err != ESP_OK) {
            return err;
        }
        upload.received += length;
        length = 0;
    }
    return ESP_OK;
}

esp_err_t upload_end(int *slot)
{
    uint8_t digest[32];
    if (!upload.open) {
        return ESP_ERR_INVALID_STATE;
    }
    upload.open = false;
    mbedtls_sha256_finish(&upload.sha, digest);
    mbedtls_sha256_free(&upload.sha);
    if (upload.received != upload.size || std::memcmp(digest, upload.expected, 32) != 0) {
        return ESP_ERR_INVALID_CRC;  // the header is never written: the old model stays in charge
    }
    espml_image_header_t other;
    uint32_t sequence = 1;
    if (active.slot >= 0 && verify(active.slot, &other) == 0) {
        sequence = other.sequence + 1;
    }
    build_header(sequence, upload.first_sector);
    esp_err_t err = esp_partition_write(slots[upload.slot], 0, upload.first_sector, kSector);
    if (err != ESP_OK) {
        return err;
    }
    *slot = upload.slot;
    return model_store_reload();
}
