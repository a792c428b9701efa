"""The ESP-IDF port links: device/port/esp_idf/link_check/check.py compiles device/core and the port
against declaration-only ESP-IDF / FreeRTOS / esp-tflite-micro headers and checks what is left
undefined. The negative cases run it on an edited copy of device/ to show each failure is caught."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEVICE = Path(__file__).resolve().parent.parent / "device"
CHECK = Path("port") / "esp_idf" / "link_check" / "check.py"

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("gcc", "g++", "ld", "nm", "c++filt")),
    reason="the link check needs gcc, g++, ld, nm and c++filt")


def run_check(device: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(device / CHECK), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def device_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "device"
    shutil.copytree(DEVICE, copy, ignore=shutil.ignore_patterns("build", "__pycache__"))
    return copy


def strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.DOTALL)


def edit(path: Path, pattern: str, replacement: str, count: int = 0) -> None:
    text = path.read_text()
    edited, n = re.subn(pattern, replacement, text, count=count)
    assert n, f"{pattern!r} not found in {path}"
    path.write_text(edited)


def test_port_compiles_and_links_clean_for_idf_5_2_and_5_5(tmp_path: Path) -> None:
    result = run_check(DEVICE, "--build", str(tmp_path), "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    for profile in ("5.2.0", "5.2", "5.5", "5.2+uart0", "5.5+uart0"):
        assert f"ESP-IDF {profile} headers:" in result.stdout
    assert "FAIL" not in result.stdout
    # The macros end in the real functions: ESP_LOGx (esp_log_write in 5.2, esp_log in 5.5),
    # recursive mutexes, critical sections, xTaskCreate.
    for symbol in ("U esp_log_write", "U esp_log\n", "U xQueueTakeMutexRecursive", "U xPortEnterCriticalTimeout",
                   "U xTaskCreatePinnedToCore", "U tflite::MicroAllocator::used_bytes() const",
                   # -fuse-cxa-atexit, as ESP-IDF compiles C++: static objects' destructors registered
                   "U __cxa_atexit", "U __dso_handle",
                   # every task's printf through the driver: the console VFS switched, by release
                   "U esp_vfs_usb_serial_jtag_use_driver", "U usb_serial_jtag_vfs_use_driver",
                   # bounded writes: who is attached, and the flush of what nobody read
                   "U usb_serial_jtag_is_connected", "U usb_serial_jtag_driver_uninstall"):
        assert symbol in result.stdout, symbol
    assert (tmp_path / "idf5.2" / "espml_firmware.o").stat().st_size > 0


def test_a_core_header_without_its_extern_c_guard_fails_naming_the_mangled_symbol(device_copy: Path) -> None:
    header = device_copy / "core" / "espml_device.h"
    edit(header, r'#ifdef __cplusplus\s*extern "C" \{\s*#endif', "")
    edit(header, r"#ifdef __cplusplus\s*\}\s*#endif", "")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "_Z17espml_device_initP14espml_device_tPK12espml_port_t" in result.stdout
    assert 'extern "C"' in result.stdout


def test_a_call_with_a_wrong_signature_fails_compilation(device_copy: Path) -> None:
    edit(device_copy / "port" / "esp_idf" / "flash_slots.cc",
         r"esp_partition_write\(slots\[slot\], offset, data, length\)",
         "esp_partition_write(slots[slot], offset, data, length, 0)")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "compile failed: device/port/esp_idf/flash_slots.cc" in result.stdout
    assert "too many arguments" in result.stdout and "esp_partition_write" in result.stdout


def test_a_function_the_headers_do_not_declare_fails(device_copy: Path) -> None:
    """Declared by the port itself (so it compiles), it is left undefined and not in symbols.txt."""
    source = device_copy / "port" / "esp_idf" / "flash_slots.cc"
    edit(source, r"namespace \{\n",
         'extern "C" esp_err_t esp_partition_erase_all(const esp_partition_t *partition);\n\nnamespace {\n', count=1)
    edit(source, r"esp_partition_erase_range\(slots\[slot\], offset, length\)", "esp_partition_erase_all(slots[slot])")
    result = run_check(device_copy, "--idf", "5.5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "esp_partition_erase_all: not declared by the link-check headers" in result.stdout


def test_a_call_to_an_undeclared_function_fails_compilation(device_copy: Path) -> None:
    edit(device_copy / "port" / "esp_idf" / "chip.cc", r"esp_restart\(\);", "esp_restart_noos();")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "compile failed: device/port/esp_idf/chip.cc" in result.stdout
    assert "esp_restart_noos" in result.stdout and "not declared" in result.stdout


def test_app_main_without_c_linkage_fails(device_copy: Path) -> None:
    edit(device_copy / "port" / "esp_idf" / "main.cc", r'extern "C" void app_main', "void app_main")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "app_main is not defined with C linkage" in result.stdout and "_Z8app_mainv" in result.stdout


def test_an_allowlisted_symbol_its_header_does_not_declare_fails(device_copy: Path) -> None:
    edit(device_copy / CHECK.parent / "symbols.txt", r"\nesp_restart \| esp_system.h\n", "\nesp_restart | esp_timer.h\n")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "esp_restart: include/esp_timer.h does not declare esp_restart" in result.stdout


def test_core_c_compiles_as_gnu17_like_esp_idf(device_copy: Path) -> None:
    """ESP-IDF compiles C as gnu17: `typeof` is a keyword there (not in -std=c11)."""
    edit(device_copy / "core" / "espml_crc32.c", r"\Z", "\nstatic typeof(int) espml_gnu17_probe(void) { return 0; }\n"
         "int (*espml_gnu17_use)(void) = espml_gnu17_probe;\n")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 0, result.stdout + result.stderr


def test_i2c_device_config_follows_the_release(device_copy: Path) -> None:
    """scl_wait_us exists from v5.2.2: setting it fails against the v5.2.0 headers only."""
    edit(device_copy / "port" / "esp_idf" / "power_sensor.cc", r"(device_config\.scl_speed_hz = 400000;)",
         r"\1\n    device_config.scl_wait_us = 0;")
    result = run_check(device_copy, "--idf", "5.2.0", "--idf", "5.2", "--idf", "5.5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"ESP-IDF 5\.2\.0 headers: \d+ sources, not linked: FAIL", result.stdout)
    assert "scl_wait_us" in result.stdout
    for profile in (r"5\.2", r"5\.5"):
        assert re.search(rf"ESP-IDF {profile} headers: \d+ sources, \d+ undefined symbols: ok", result.stdout)


def test_the_uart0_transport_links_with_the_real_uart_signatures(device_copy: Path) -> None:
    """UART0 (Kconfig) builds against driver/uart.h; uart_write_bytes takes no time-out there."""
    result = run_check(DEVICE, "--idf", "5.2+uart0", "--idf", "5.5+uart0", "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "U uart_write_bytes" in result.stdout and "U usb_serial_jtag_write_bytes" not in result.stdout
    edit(device_copy / "port" / "esp_idf" / "transport.cc", r"uart_write_bytes\(kUart, bytes, length\)",
         "uart_write_bytes(kUart, bytes, length, 0)")
    result = run_check(device_copy, "--idf", "5.5+uart0")
    assert result.returncode == 1 and "too many arguments" in result.stdout, result.stdout + result.stderr


def test_the_console_vfs_switch_follows_the_release(device_copy: Path) -> None:
    """esp_vfs_usb_serial_jtag_use_driver on 5.2, usb_serial_jtag_vfs_use_driver from 5.3 (the old
    name deprecated there): calling either on every release fails the other's build."""
    transport = device_copy / "port" / "esp_idf" / "transport.cc"
    original = transport.read_text()
    edit(transport, r"ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL\(5, 3, 0\)", "0")
    result = run_check(device_copy, "--idf", "5.2", "--idf", "5.5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"ESP-IDF 5\.2 headers: \d+ sources, \d+ undefined symbols: ok", result.stdout)
    assert "deprecated" in result.stdout
    transport.write_text(original)
    edit(transport, r"ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL\(5, 3, 0\)", "1")
    result = run_check(device_copy, "--idf", "5.2")
    assert result.returncode == 1 and "exists from ESP-IDF v5.3" in result.stdout, result.stdout + result.stderr


def test_no_transport_write_waits_for_ever() -> None:
    """transport.cc bounds every driver call; the link policy (core/espml_link.c) handles a full buffer."""
    source = strip_comments((DEVICE / "port" / "esp_idf" / "transport.cc").read_text())
    assert "portMAX_DELAY" not in source
    assert re.search(r"usb_serial_jtag_write_bytes\([^;]*pdMS_TO_TICKS\(timeout_ms\)\)", source)
    assert "usb_serial_jtag_is_connected()" in source and "espml_link_write(&link" in source


def test_kconfig_transport_options_match_the_link_check_stand_in() -> None:
    kconfig = (DEVICE / "main" / "Kconfig.projbuild").read_text()
    sdkconfig = (DEVICE / CHECK.parent / "include" / "sdkconfig.h").read_text()
    for name in ("ESPML_TRANSPORT_USB_SERIAL_JTAG", "ESPML_TRANSPORT_UART0", "ESPML_UART_BAUD"):
        assert re.search(rf"^\s*config {name}$", kconfig, re.MULTILINE), name
        assert f"CONFIG_{name} " in sdkconfig, name
    baud = re.search(r"config ESPML_UART_BAUD.*?default (\d+)", kconfig, re.DOTALL).group(1)
    assert f"#define CONFIG_ESPML_UART_BAUD {baud}" in sdkconfig
    assert re.search(r"default ESPML_TRANSPORT_USB_SERIAL_JTAG", kconfig)
