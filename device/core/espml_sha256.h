/* SHA-256 (FIPS 180-4), portable and incremental: model images are hashed as they arrive. */
#ifndef ESPML_SHA256_H
#define ESPML_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t state[8];
    uint64_t length;   /* bytes hashed so far */
    uint8_t block[64]; /* the partial block */
    size_t used;
} espml_sha256_t;

void espml_sha256_start(espml_sha256_t *ctx);
void espml_sha256_update(espml_sha256_t *ctx, const uint8_t *data, size_t length);
void espml_sha256_finish(espml_sha256_t *ctx, uint8_t digest[32]);

/* One-shot: the digest of `length` bytes. */
void espml_sha256(const uint8_t *data, size_t length, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif

#endif
