#include "power_sensor.h"

#include "driver/i2c_master.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {
constexpr const char *kTag = "espml.power";
constexpr uint8_t kAddress = 0x40;  // A0 = A1 = GND
constexpr gpio_num_t kSda = GPIO_NUM_8, kScl = GPIO_NUM_9;
constexpr uint8_t kConfig = 0x00, kBusVoltage = 0x02, kCurrent = 0x04, kCalibration = 0x05;
// 0.1 ohm shunt, 0.1 mA per bit: calibration = 0.04096 / (0.0001 A * 0.1 ohm) = 4096.
constexpr uint16_t kCalibrationValue = 4096;
constexpr float kCurrentLsbMa = 0.1f;
// 32 V range, gain /8, 12-bit single samples (532 us each), shunt and bus continuous.
constexpr uint16_t kConfigValue = 0x399F;

i2c_master_dev_handle_t device;
bool present;
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
    uint8_t data[2];
    esp_err_t err = i2c_master_transmit_receive(device, &reg, 1, data, 2, 20);
    *value = static_cast<uint16_t>(data[0] << 8 | data[1]);
    return err;
}

void sample_task(void *)
{
    for (;;) {
        uint16_t raw_current, raw_bus;
        if (read_register(kCurrent, &raw_current) == ESP_OK && read_register(kBusVoltage, &raw_bus) == ESP_OK) {
            float ma = static_cast<int16_t>(raw_current) * kCurrentLsbMa;
            taskENTER_CRITICAL(&lock);
            last_ma = ma;
            sum_ma += ma;
            samples++;
            peak_ma = ma > peak_ma ? ma : peak_ma;
            bus_v = (raw_bus >> 3) * 0.004f;
            taskEXIT_CRITICAL(&lock);
        }
        vTaskDelay(1);  // one tick (1 ms): about the INA219's 12-bit conversion time
    }
}
}  // namespace

esp_err_t power_sensor_init()
{
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
        ESP_LOGI(kTag, "no INA219 at 0x%02x: current is not measured", kAddress);
        return ESP_ERR_NOT_FOUND;
    }
    i2c_device_config_t device_config = {};
    device_config.dev_addr_length = I2C_ADDR_BIT_LEN_7;
    device_config.device_address = kAddress;
    device_config.scl_speed_hz = 400000;
    err = i2c_master_bus_add_device(bus, &device_config, &device);
    if (err == ESP_OK) {
        err = write_register(kConfig, kConfigValue);
    }
    if (err == ESP_OK) {
        err = write_register(kCalibration, kCalibrationValue);  // current reads are 0 until this is set
    }
    if (err != ESP_OK) {
        return err;
    }
    if (xTaskCreate(sample_task, "ina219", 3072, nullptr, 5, nullptr) != pdPASS) {
        return ESP_ERR_NO_MEM;
    }
    present = true;
    ESP_LOGI(kTag, "INA219 at 0x%02x, 0.1 ohm shunt", kAddress);
    return ESP_OK;
}

bool power_sensor_present() { return present; }

void power_sensor_window_start()
{
    taskENTER_CRITICAL(&lock);
    sum_ma = 0;
    peak_ma = -1e9f;
    samples = 0;
    taskEXIT_CRITICAL(&lock);
}

CurrentReading power_sensor_window_end()
{
    CurrentReading reading = {0, 0, 0, present};
    if (!present) {
        return reading;
    }
    taskENTER_CRITICAL(&lock);
    // Shorter than one conversion: the latest sample is the best figure there is.
    reading.mean_ma = samples ? sum_ma / samples : last_ma;
    reading.peak_ma = samples ? peak_ma : last_ma;
    reading.bus_v = bus_v;
    taskEXIT_CRITICAL(&lock);
    return reading;
}
