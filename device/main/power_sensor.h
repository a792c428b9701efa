// Supply current from an INA219 on I2C, when one answers: sampled continuously by its own task,
// averaged over each Invoke() (a sub-millisecond inference needs many to resolve: see FACTS).
#pragma once

#include "esp_err.h"

struct CurrentReading {
    float mean_ma;
    float peak_ma;
    float bus_v;
    bool valid;
};

esp_err_t power_sensor_init();  // ESP_ERR_NOT_FOUND when no sensor answers: not an error for the app
bool power_sensor_present();
void power_sensor_window_start();
CurrentReading power_sensor_window_end();
