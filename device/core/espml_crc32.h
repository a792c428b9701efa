/* CRC-32/ISO-HDLC (zlib's crc32): reflected polynomial 0xEDB88320, init and xorout 0xFFFFFFFF. */
#ifndef ESPML_CRC32_H
#define ESPML_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t espml_crc32(const uint8_t *data, size_t length);

#ifdef __cplusplus
}
#endif

#endif
