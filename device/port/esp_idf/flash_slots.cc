#include "esp_log.h"
#include "esp_partition.h"
#include "espml_esp_idf.h"

namespace {
constexpr const char *kTag = "espml.slots";
constexpr esp_partition_subtype_t kModelSubtype = static_cast<esp_partition_subtype_t>(0x40);
constexpr const char *kLabels[2] = {"model_a", "model_b"};

const esp_partition_t *slots[2];
esp_partition_mmap_handle_t handles[2];

int erase(void *, int slot, uint32_t offset, uint32_t length)
{
    return esp_partition_erase_range(slots[slot], offset, length) == ESP_OK ? 0 : -1;
}

int write(void *, int slot, uint32_t offset, const uint8_t *data, uint32_t length)
{
    return esp_partition_write(slots[slot], offset, data, length) == ESP_OK ? 0 : -1;
}

const uint8_t *map(void *, int slot)
{
    const void *view = nullptr;
    if (esp_partition_mmap(slots[slot], 0, slots[slot]->size, ESP_PARTITION_MMAP_DATA, &view, &handles[slot]) != ESP_OK) {
        return nullptr;
    }
    return static_cast<const uint8_t *>(view);
}

void unmap(void *, int slot) { esp_partition_munmap(handles[slot]); }
}  // namespace

esp_err_t flash_slots_init(espml_port_t *port)
{
    for (int i = 0; i < 2; i++) {
        slots[i] = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, kModelSubtype, kLabels[i]);
        if (slots[i] == nullptr) {
            ESP_LOGE(kTag, "no %s partition: flash the firmware with device/partitions.csv", kLabels[i]);
            return ESP_ERR_NOT_FOUND;
        }
    }
    port->slot_size = slots[0]->size < slots[1]->size ? slots[0]->size : slots[1]->size;
    port->flash_erase = erase;
    port->flash_write = write;
    port->flash_map = map;
    port->flash_unmap = unmap;
    return ESP_OK;
}
