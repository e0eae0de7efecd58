/* stream_internal.h - shared by the stream store's files (not public). */
#ifndef EVOLU_STREAM_INTERNAL_H
#define EVOLU_STREAM_INTERNAL_H

#include "evolu/stream_store.h"

#define STREAM_VERSION 1u
#define STREAM_NONE UINT32_MAX
/* Offset of entry 0 inside a record (nonce, then the chunk head). */
#define STREAM_ENTRIES_AT (EVOLU_AEAD_NONCE_BYTES + EVOLU_STREAM_CHUNK_HEAD)

static inline void stream_put_u32(uint8_t *p, uint32_t v) {
    for (unsigned i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void stream_put_u64(uint8_t *p, uint64_t v) {
    for (unsigned i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t stream_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t stream_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Chunks needed for n entries. */
static inline uint32_t stream_chunks_for(uint64_t n) {
    return (uint32_t)((n + EVOLU_STREAM_CHUNK_ENTRIES - 1) / EVOLU_STREAM_CHUNK_ENTRIES);
}
/* Host bytes of a generation of n entries. */
static inline uint64_t stream_length_for(uint64_t n) {
    return (uint64_t)stream_chunks_for(n) * EVOLU_STREAM_RECORD_BYTES +
           EVOLU_STREAM_TRAILER_BYTES;
}

/* Reads chunk c of the open generation into s->buf and verifies it
 * (authenticity, chunk index, sequence). Moves the cursor there without a
 * known prefix. */
evolu_err evolu_stream_load_chunk_(evolu_stream_store *s, uint32_t c);
/* Entries held by chunk c of the open generation. */
unsigned evolu_stream_chunk_entries_(const evolu_stream_store *s, uint32_t c);
/* Forgets the cursor and the remembered prefixes. */
void evolu_stream_reset_cursor_(evolu_stream_store *s);

#endif
