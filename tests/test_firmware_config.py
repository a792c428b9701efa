"""What only a chip shows, checked in the files its build uses: the task watchdog settings that let
a long Invoke() run, and the current sampler's timing and placement (power_sensor.cc's constants
against the INA219 / INA226 datasheets' conversion times)."""

from __future__ import annotations

import re
from pathlib import Path

DEVICE = Path(__file__).resolve().parent.parent / "device"
POWER = (DEVICE / "port" / "esp_idf" / "power_sensor.cc").read_text()

# Datasheet conversion times, microseconds. INA226 (SBOS547): VBUSCT / VSHCT codes 0-7; AVG codes 0-7.
INA226_CT_US = [140, 204, 332, 588, 1100, 2116, 4156, 8244]
INA226_AVERAGES = [1, 4, 16, 64, 128, 256, 512, 1024]
# INA219 (SBOS448): BADC / SADC codes 0-3 (9..12 bit) and 8-15 (12 bit, 1..128 samples).
INA219_ADC_US = {0: 84, 1: 148, 2: 276, 3: 532, 8: 532, 9: 1060, 10: 2130, 11: 4260, 12: 8510,
                 13: 17020, 14: 34050, 15: 68100}


def sdkconfig() -> dict[str, str]:
    lines = (DEVICE / "sdkconfig.defaults").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def chip(name: str) -> tuple[int, int]:
    """(config word, conversion_us) of power_sensor.cc's Chip constant for `name`."""
    found = re.search(rf'constexpr Chip k\w+ = \{{"{name}", (0x[0-9A-Fa-f]+), \d+, (\d+), (?:true|false)\}};', POWER)
    assert found, name
    return int(found.group(1), 16), int(found.group(2))


def ina226_period_us(config: int) -> int:
    averages = INA226_AVERAGES[(config >> 9) & 7]
    return averages * (INA226_CT_US[(config >> 6) & 7] + INA226_CT_US[(config >> 3) & 7])


def ina219_period_us(config: int) -> int:
    return INA219_ADC_US[(config >> 7) & 15] + INA219_ADC_US[(config >> 3) & 15]


def test_the_idle_task_of_the_inference_core_is_not_watched() -> None:
    """Invoke runs in the main task on CPU0 and starves CPU0's idle task for its whole length; the
    task watchdog would print into the protocol stream every 5 s. CPU1's stays watched."""
    config = sdkconfig()
    assert config["CONFIG_ESP_MAIN_TASK_AFFINITY_CPU0"] == "y"
    assert config["CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0"] == "n"
    assert config["CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1"] == "y"


def test_the_sampler_runs_on_the_core_without_inference() -> None:
    core = re.search(r"constexpr BaseType_t kSamplerCore = (\d);", POWER)
    assert core and core.group(1) == "1"
    assert re.search(r"xTaskCreatePinnedToCore\(sample_task, [^;]*kSamplerCore\)", POWER)


def test_the_stated_conversion_periods_follow_the_configuration_words() -> None:
    ina226, ina226_us = chip("INA226")
    assert ina226_us == ina226_period_us(ina226) == 35200  # 16 x (1.1 ms + 1.1 ms)
    ina219, ina219_us = chip("INA219")
    assert ina219_us == ina219_period_us(ina219) == 1064


def test_a_sample_is_counted_only_when_the_chip_says_a_conversion_finished() -> None:
    """INA226: CVRF (mask/enable bit 3); INA219: CNVR (bus voltage bit 1), cleared by reading power."""
    assert "constexpr uint16_t kIna219Ready = 1u << 1, kIna226Ready = 1u << 3;" in POWER
    assert re.search(r"read_register\(kMaskEnable, &flags\).*?flags & kIna226Ready", POWER, re.DOTALL)
    assert re.search(r"\*raw_bus & kIna219Ready.*?read_register\(kPower", POWER, re.DOTALL)
    counted = re.search(r"esp_err_t err = read_conversion\(&ma, &raw_bus\);\s*if \(err == ESP_OK\) \{[^}]*samples\+\+",
                        POWER)
    assert counted, "samples must be counted only for a finished conversion"


def test_a_sensor_is_confirmed_by_a_register_read_after_the_probe() -> None:
    """v5.2.0's i2c_master_probe answers ESP_OK on a bus time-out."""
    probe = POWER.index("i2c_master_probe(")
    confirm = POWER.index("read_register(kConfig, &config)")
    sampler = POWER.index("xTaskCreatePinnedToCore(")
    assert probe < confirm < sampler
    assert "config == 0xFFFF" in POWER


def test_the_link_check_sdkconfig_defines_nothing_the_build_turns_off() -> None:
    """kconfgen writes no #define for a bool set to n: the stand-in sdkconfig.h (every release it
    describes) must not define one either (CONFIG_LOG_COLORS was defined for 5.2)."""
    stand_in = (DEVICE / "port" / "esp_idf" / "link_check" / "include" / "sdkconfig.h").read_text()
    defined = set(re.findall(r"^#define (CONFIG_\w+)", stand_in, re.MULTILINE))
    off = {name for name, value in sdkconfig().items() if value == "n"}
    assert "CONFIG_LOG_COLORS" in off and not (defined & off), defined & off
