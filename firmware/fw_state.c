/*
 * fw_state.c - the trusted state record, kept in the board's flash (a
 * semihosting file under QEMU). Little-endian, 164 bytes:
 *
 *   0   "EVFW"  4   version 1, 0, 0, 0
 *   8   owner id 16, encryption key 32, write key 16
 *   72  HLC clock (TimestampBytes 16: millis, counter, node id)
 *   88  stream store trusted state: device key 32, seq u64, issued u64,
 *       length u64, clock 16
 *   160 CRC-32C of bytes 0..159
 *
 * The board's save is atomic, so a power cut leaves the old or the new
 * record; the CRC catches a flash page that was not. Key material is wiped
 * from the staging buffer after use.
 */
#include <string.h>

#include "fw.h"

#define FW_STATE_BYTES 164u

static void put64(uint8_t *p, uint64_t v) {
    for (unsigned i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

evolu_err fw_state_save(evolu_fw *fw, const evolu_stream_trusted *t) {
    uint8_t b[FW_STATE_BYTES];
    memset(b, 0, sizeof b);
    memcpy(b, "EVFW", 4);
    b[4] = 1;
    memcpy(b + 8, fw->owner.id, 16);
    memcpy(b + 24, fw->owner.encryption_key, 32);
    memcpy(b + 56, fw->owner.write_key, 16);
    evolu_timestamp_to_bytes(&fw->clock, b + 72);
    memcpy(b + 88, t->key, 32);
    put64(b + 120, t->seq);
    put64(b + 128, t->issued);
    put64(b + 136, t->length);
    memcpy(b + 144, t->clock, 16);
    uint32_t crc = evolu_crc32c(0, b, 160);
    for (unsigned i = 0; i < 4; i++) b[160 + i] = (uint8_t)(crc >> (8 * i));
    evolu_err e = fw->dp->state_save(fw->dp->ctx, b, sizeof b);
    fw->port.memzero(fw->port.ctx, b, sizeof b);
    return e;
}

evolu_err fw_state_load(evolu_fw *fw) {
    uint8_t b[EVOLU_DEVICE_STATE_MAX];
    size_t n = 0;
    evolu_err e = fw->dp->state_load(fw->dp->ctx, b, sizeof b, &n);
    if (e) return e;
    if (n != FW_STATE_BYTES || memcmp(b, "EVFW", 4) || b[4] != 1) {
        e = EVOLU_E_INVALID;
    } else {
        uint32_t crc = 0;
        for (unsigned i = 0; i < 4; i++) crc |= (uint32_t)b[160 + i] << (8 * i);
        if (crc != evolu_crc32c(0, b, 160)) e = EVOLU_E_CHECKSUM;
    }
    if (!e) e = evolu_timestamp_from_bytes(b + 72, &fw->clock);
    if (!e) {
        memcpy(fw->owner.id, b + 8, 16);
        memcpy(fw->owner.encryption_key, b + 24, 32);
        memcpy(fw->owner.write_key, b + 56, 16);
        memcpy(fw->trusted.key, b + 88, 32);
        fw->trusted.seq = get64(b + 120);
        fw->trusted.issued = get64(b + 128);
        fw->trusted.length = get64(b + 136);
        memcpy(fw->trusted.clock, b + 144, 16);
    }
    fw->port.memzero(fw->port.ctx, b, sizeof b);
    return e;
}
