// Supply current from an INA219 or INA226 on I2C, when one answers: sampled by its own task on
// CPU1 (inference runs on CPU0), one sample per finished conversion (the chip's conversion-ready
// flag), averaged over each Invoke() (a sub-millisecond inference needs many to resolve).
#include "driver/i2c_master.h"
#include "esp_log.h"
#include "espml_esp_idf.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {
constexpr const char *kTag = "espml.power";
constexpr uint8_t kAddress = 0x40;  // A0 = A1 = GND
constexpr gpio_num_t kSda = GPIO_NUM_8, kScl = GPIO_NUM_9;
constexpr uint8_t kConfig = 0x00, kBusVoltage = 0x02, kPower = 0x03, kCurrent = 0x04, kCalibration = 0x05;
constexpr uint8_t kMaskEnable = 0x06, kManufacturer = 0xFE;  // INA226 only
constexpr uint16_t kTexasInstruments = 0x5449;  // INA226's manufacturer ID; the INA219 has no such register
constexpr float kCurrentLsbMa = 0.1f;           // both: 0.1 mA per bit with a 0.1 ohm shunt
constexpr BaseType_t kSamplerCore = 1;          // away from Invoke() (the main task, CPU0: sdkconfig.defaults)
constexpr uint32_t kStack = 3072;

struct Chip {
    const char *name;
    uint16_t config;         // continuous shunt and bus conversions
    uint16_t calibration;    // current reads are 0 until this is written
    uint32_t conversion_us;  // one new result this often (the config's conversion times x averages)
    bool is_ina226;
    float bus_v(uint16_t raw) const { return is_ina226 ? raw * 0.00125f : (raw >> 3) * 0.004f; }
};
// INA219: 32 V range, gain /8, 12-bit shunt and bus (532 us each, no averaging): 1064 us per result;
// calibration 0.04096 / (0.1 mA * 0.1 ohm). Ready: bus voltage register bit 1 (CNVR), cleared by
// reading the power register.
constexpr Chip kIna219 = {"INA219", 0x399F, 4096, 1064, false};
// INA226: 16 averages of 1.1 ms shunt + 1.1 ms bus conversions: 35.2 ms per result; calibration
// 0.00512 / (0.1 mA * 0.1 ohm). Ready: mask/enable register bit 3 (CVRF), cleared by reading it.
constexpr Chip kIna226 = {"INA226", 0x4527, 512, 35200, true};
constexpr uint16_t kIna219Ready = 1u << 1, kIna226Ready = 1u << 3;

const Chip *chip;
i2c_master_dev_handle_t device;
portMUX_TYPE lock = portMUX_INITIALIZER_UNLOCKED;
float sum_ma, peak_ma, last_ma, bus_v;
uint32_t samples;

esp_err_t write_register(uint8_t reg, uint16_t value)
{
    uint8_t buffer[3] = {reg, static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value & 0xFF)};
    return i2c_master_transmit(device, buffer, sizeof buffer, 20);
}

esp_err_t read_register(uint8_t reg, uint16_t *value)
{
    uint8_t data[2] = {0, 0};
    esp_err_t err = i2c_master_transmit_receive(device, &reg, 1, data, 2, 20);
    *value = static_cast<uint16_t>(data[0] << 8 | data[1]);
    return err;
}

// One finished conversion, or ESP_ERR_NOT_FINISHED while the chip is still converting.
esp_err_t read_conversion(float *ma, uint16_t *raw_bus)
{
    uint16_t flags = 0, raw_current = 0, ignored = 0;
    esp_err_t err;
    if (chip->is_ina226) {
        if ((err = read_register(kMaskEnable, &flags)) != ESP_OK) {
            return err;
        }
        if (!(flags & kIna226Ready)) {
            return ESP_ERR_NOT_FINISHED;
        }
        err = read_register(kBusVoltage, raw_bus);
    } else {
        if ((err = read_register(kBusVoltage, raw_bus)) != ESP_OK) {
            return err;
        }
        if (!(*raw_bus & kIna219Ready)) {
            return ESP_ERR_NOT_FINISHED;
        }
        err = read_register(kPower, &ignored);  // clears CNVR
    }
    if (err == ESP_OK) {
        err = read_register(kCurrent, &raw_current);
    }
    *ma = static_cast<int16_t>(raw_current) * kCurrentLsbMa;
    return err;
}

void sample_task(void *)
{
    // Four looks per conversion: a result is taken within a quarter of its period of being ready.
    const TickType_t poll = pdMS_TO_TICKS(chip->conversion_us / 4000) > 0 ? pdMS_TO_TICKS(chip->conversion_us / 4000) : 1;
    uint32_t failures = 0;
    for (;;) {
        float ma = 0;
        uint16_t raw_bus = 0;
        esp_err_t err = read_conversion(&ma, &raw_bus);
        if (err == ESP_OK) {
            taskENTER_CRITICAL(&lock);
            last_ma = ma;
            sum_ma += ma;
            samples++;
            peak_ma = ma > peak_ma ? ma : peak_ma;
            bus_v = chip->bus_v(raw_bus);
            taskEXIT_CRITICAL(&lock);
        } else if (err != ESP_ERR_NOT_FINISHED && failures++ % 1000 == 0) {
            // The deepest this task's stack goes (ESP_LOG's formatting): its high-water mark here
            // says whether kStack has room to spare.
            ESP_LOGW(kTag, "%s read failed: %s (%u failures); stack never used: %u of %u bytes", chip->name,
                     esp_err_to_name(err), static_cast<unsigned>(failures),
                     static_cast<unsigned>(uxTaskGetStackHighWaterMark(nullptr)), static_cast<unsigned>(kStack));
        }
        vTaskDelay(poll);
    }
}

void window_start(void *)
{
    taskENTER_CRITICAL(&lock);
    sum_ma = 0;
    peak_ma = -1e9f;
    samples = 0;
    taskEXIT_CRITICAL(&lock);
}

int window_end(void *, espml_current_t *current)
{
    if (chip == nullptr) {
        return 0;
    }
    taskENTER_CRITICAL(&lock);
    // Shorter than one conversion: the latest result is the best figure there is.
    current->mean_ma = samples ? sum_ma / samples : last_ma;
    current->peak_ma = samples ? peak_ma : last_ma;
    current->bus_v = bus_v;
    taskEXIT_CRITICAL(&lock);
    return 1;
}

int no_sensor(void *, espml_current_t *) { return 0; }
void nothing(void *) {}
}  // namespace

esp_err_t power_sensor_init(espml_port_t *port)
{
    port->current_start = nothing;
    port->current_end = no_sensor;
    i2c_master_bus_config_t bus_config = {};
    bus_config.i2c_port = I2C_NUM_0;
    bus_config.sda_io_num = kSda;
    bus_config.scl_io_num = kScl;
    bus_config.clk_source = I2C_CLK_SRC_DEFAULT;
    bus_config.glitch_ignore_cnt = 7;
    bus_config.flags.enable_internal_pullup = true;
    i2c_master_bus_handle_t bus;
    esp_err_t err = i2c_new_master_bus(&bus_config, &bus);
    if (err != ESP_OK) {
        return err;
    }
    if (i2c_master_probe(bus, kAddress, 20) != ESP_OK) {
        ESP_LOGI(kTag, "no INA219/INA226 at 0x%02x: current is not measured", kAddress);
        return ESP_ERR_NOT_FOUND;
    }
    i2c_device_config_t device_config = {};
    device_config.dev_addr_length = I2C_ADDR_BIT_LEN_7;
    device_config.device_address = kAddress;
    device_config.scl_speed_hz = 400000;
    if ((err = i2c_master_bus_add_device(bus, &device_config, &device)) != ESP_OK) {
        return err;
    }
    // v5.2.0's i2c_master_probe answers ESP_OK on a bus time-out too: a register read confirms a
    // chip is there (a missing one NACKs, a stuck bus times out; all-ones is an open bus).
    uint16_t config = 0;
    if (read_register(kConfig, &config) != ESP_OK || config == 0xFFFF) {
        ESP_LOGI(kTag, "nothing answers a register read at 0x%02x: current is not measured", kAddress);
        return ESP_ERR_NOT_FOUND;
    }
    uint16_t manufacturer = 0;
    const Chip *found = read_register(kManufacturer, &manufacturer) == ESP_OK && manufacturer == kTexasInstruments
                            ? &kIna226 : &kIna219;
    if ((err = write_register(kConfig, found->config)) != ESP_OK ||
        (err = write_register(kCalibration, found->calibration)) != ESP_OK) {
        return err;
    }
    chip = found;
    if (xTaskCreatePinnedToCore(sample_task, "espml.power", kStack, nullptr, 5, nullptr, kSamplerCore) != pdPASS) {
        chip = nullptr;
        return ESP_ERR_NO_MEM;
    }
    port->current_start = window_start;
    port->current_end = window_end;
    port->has_current_sensor = 1;
    ESP_LOGI(kTag, "%s at 0x%02x, 0.1 ohm shunt, a result every %u us", chip->name, kAddress,
             static_cast<unsigned>(chip->conversion_us));
    return ESP_OK;
}
