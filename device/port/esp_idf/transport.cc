// The protocol's transport: USB-Serial/JTAG (the S3's own USB port, the default) or UART0 (the
// DevKitC's USB-UART bridge: what a remote rack reaches over RFC 2217), chosen in Kconfig
// (main/Kconfig.projbuild). Frames go through the core's link policy (core/espml_link.h): every
// write waits a bounded time, a host that does not read costs one such wait, and what it did not
// read is flushed so the next host reads no stale frames.
#include <cstdarg>
#include <cstdio>

#include "esp_idf_version.h"
#include "esp_log.h"
#include "espml_esp_idf.h"
#include "espml_link.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "sdkconfig.h"
#if CONFIG_ESPML_TRANSPORT_UART0
#include "driver/uart.h"
#else
#include "driver/usb_serial_jtag.h"
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
#include "driver/usb_serial_jtag_vfs.h"
#else
#include "esp_vfs_usb_serial_jtag.h"
#endif
#endif

namespace {
constexpr uint32_t kWriteTimeoutMs = 250;  // one frame's wait for room (toolkit/virtual/usb_link.py models it)
constexpr uint32_t kReadSliceMs = 50;      // the reader looks at the line this often
constexpr int kBufferBytes = 8192;         // each direction's driver buffer
constexpr TickType_t kLockWait = pdMS_TO_TICKS(1000);

espml_device_t *routed;
SemaphoreHandle_t tx_lock;      // recursive: a log line can be produced while a frame is being sent
SemaphoreHandle_t driver_lock;  // held by the reader while it waits in the driver, and by a flush
espml_link_t link;

#if CONFIG_ESPML_TRANSPORT_UART0
// A UART always drains (no flow control, nobody needs to read): a write waits at most for the
// bytes ahead of it to leave at the configured baud, so the link never stalls and never flushes.
constexpr uart_port_t kUart = UART_NUM_0;

esp_err_t driver_install()
{
    uart_config_t config = {};
    config.baud_rate = CONFIG_ESPML_UART_BAUD;
    config.data_bits = UART_DATA_8_BITS;
    config.parity = UART_PARITY_DISABLE;
    config.stop_bits = UART_STOP_BITS_1;
    config.flow_ctrl = UART_HW_FLOWCTRL_DISABLE;
    config.source_clk = UART_SCLK_DEFAULT;
    esp_err_t err = uart_driver_install(kUart, kBufferBytes, kBufferBytes, 0, nullptr, 0);
    if (err == ESP_OK) {
        err = uart_param_config(kUart, &config);
    }
    return err;
}

int send(void *, const uint8_t *bytes, size_t length, uint32_t)
{
    return uart_write_bytes(kUart, bytes, length) == static_cast<int>(length);
}

int driver_read(uint8_t *buffer, size_t capacity)
{
    return uart_read_bytes(kUart, buffer, capacity, pdMS_TO_TICKS(kReadSliceMs));
}

void configure_link()
{
    link.send = send;
    link.attached = nullptr;  // a UART has no notion of a host being there
    link.flush = nullptr;
}
#else
void vfs_use_driver()
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
    usb_serial_jtag_vfs_use_driver();
#else
    esp_vfs_usb_serial_jtag_use_driver();
#endif
}

void vfs_use_nonblocking()
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
    usb_serial_jtag_vfs_use_nonblocking();
#else
    esp_vfs_usb_serial_jtag_use_nonblocking();
#endif
}

esp_err_t driver_install()
{
    usb_serial_jtag_driver_config_t config = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    config.rx_buffer_size = kBufferBytes;
    config.tx_buffer_size = kBufferBytes;
    return usb_serial_jtag_driver_install(&config);
}

// The driver's ring buffer takes a whole write or none of it (xRingbufferSend): 1 or 0.
int send(void *, const uint8_t *bytes, size_t length, uint32_t timeout_ms)
{
    return usb_serial_jtag_write_bytes(bytes, length, pdMS_TO_TICKS(timeout_ms)) == static_cast<int>(length);
}

// Start-of-frame packets arrive: a computer is at the other end (a charger sends none). True also
// when no program has the port open: that host is found out by a write that does not fit.
int attached(void *) { return usb_serial_jtag_is_connected(); }

// The driver has no call that empties its TX ring buffer: reinstalling it does. Callers hold the
// TX lock; the reader is kept out of the driver by driver_lock, and other tasks' printf (the VFS,
// switched to the driver) is sent the non-driver way meanwhile. A task already inside the driver's
// write when it is removed is the one case this cannot exclude (docs/virtual_board.md).
void flush(void *)
{
    if (xSemaphoreTakeRecursive(driver_lock, pdMS_TO_TICKS(4 * kReadSliceMs)) != pdTRUE) {
        return;  // the reader did not leave the driver in time: keep the queue rather than race it
    }
    vfs_use_nonblocking();
    if (usb_serial_jtag_driver_uninstall() == ESP_OK && driver_install() == ESP_OK) {
        vfs_use_driver();
    }
    xSemaphoreGiveRecursive(driver_lock);
}

int driver_read(uint8_t *buffer, size_t capacity)
{
    return usb_serial_jtag_read_bytes(buffer, capacity, pdMS_TO_TICKS(kReadSliceMs));
}

void configure_link()
{
    link.send = send;
    link.attached = attached;
    link.flush = flush;
}
#endif

void write_frame(void *, const uint8_t *bytes, size_t length) { espml_link_write(&link, bytes, length); }

// Every holder of the TX lock leaves within one bounded write (or one flush), so the wait ends.
void lock(void *)
{
    while (xSemaphoreTakeRecursive(tx_lock, kLockWait) != pdTRUE) {
    }
}
void unlock(void *) { xSemaphoreGiveRecursive(tx_lock); }

int log_as_frame(const char *format, va_list args)
{
    // ESP-IDF formats its own level letter and tag into the line; level info carries it.
    espml_device_vlog(routed, ESPML_LOG_INFO, format, args);
    return 0;
}

// stdout and stderr of the protocol task (where TFLite-Micro's DebugLog writes with
// vfprintf(stderr, ...)) go to the device log instead of raw text on the protocol's port.
ssize_t debug_write(void *, const char *text, size_t length)
{
    espml_device_debug_write(routed, text, length);
    return static_cast<ssize_t>(length);
}
}  // namespace

esp_err_t transport_init(espml_port_t *port)
{
    tx_lock = xSemaphoreCreateRecursiveMutex();
    driver_lock = xSemaphoreCreateRecursiveMutex();
    if (tx_lock == nullptr || driver_lock == nullptr) {
        return ESP_ERR_NO_MEM;
    }
    esp_err_t err = driver_install();
    if (err != ESP_OK) {
        return err;
    }
#if !CONFIG_ESPML_TRANSPORT_UART0
    // The console is on USB-Serial/JTAG (sdkconfig.defaults): every other task's printf goes
    // through the driver's buffer, whole writes at a time, instead of straight into the FIFO
    // between the bytes of a frame.
    vfs_use_driver();
#endif
    espml_link_init(&link, kWriteTimeoutMs);
    configure_link();
    port->write = write_frame;
    port->lock = lock;
    port->unlock = unlock;
    return ESP_OK;
}

void transport_route_logs(espml_device_t *device)
{
    routed = device;
    esp_log_set_vprintf(log_as_frame);
    cookie_io_functions_t functions = {};
    functions.write = debug_write;
    FILE *log_stream = fopencookie(nullptr, "w", functions);
    if (log_stream != nullptr) {
        setvbuf(log_stream, nullptr, _IONBF, 0);  // the core gathers lines itself
        stdout = log_stream;
        stderr = log_stream;
    } else {
        ESP_LOGW("espml", "stdout and stderr stay on the console: fopencookie failed");
    }
}

size_t transport_read(uint8_t *buffer, size_t capacity)
{
    int n = 0;
    if (xSemaphoreTakeRecursive(driver_lock, pdMS_TO_TICKS(kReadSliceMs)) == pdTRUE) {
        n = driver_read(buffer, capacity);
        xSemaphoreGiveRecursive(driver_lock);
    }
    lock(nullptr);
    if (n > 0) {
        espml_link_host_spoke(&link);  // it reads again
    } else {
        espml_link_poll(&link);  // a host attached or left while the line was quiet
    }
    unlock(nullptr);
    return n > 0 ? static_cast<size_t>(n) : 0;
}
