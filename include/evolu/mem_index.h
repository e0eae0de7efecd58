/*
 * evolu/mem_index.h - the host's in-memory timestamp index: a reference
 * implementation of evolu_store (evolu/store.h) for one owner.
 *
 * It is an order-statistic treap keyed by TimestampBytes in which every node
 * keeps the size and the XOR of the fingerprints of its subtree, so
 * fingerprint(begin, end) = prefix(end) ^ prefix(begin), find_lower_bound and
 * the timestamp at an index all take O(log N), and iterate(begin, end) takes
 * O(log N + k). The SQLite relay's skiplist (spec 7.2) serves the same
 * operations; any ordered structure with equal results is wire-compatible.
 *
 * This is a host layer (src/store/): it allocates with malloc. Changes are
 * copied into one growable buffer, so pointers handed out by read_change stay
 * valid until the next write. Writes are all or nothing (memory is reserved
 * before anything is inserted, and a refused quota rolls the batch back).
 */
#ifndef EVOLU_MEM_INDEX_H
#define EVOLU_MEM_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/port.h"
#include "evolu/store.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evolu_mem_index evolu_mem_index;

/* A new, empty index. port computes the fingerprints (SHA-256) and must
 * outlive the index. EVOLU_E_NOMEM when out of memory. */
evolu_err evolu_mem_index_create(const evolu_port *port, evolu_mem_index **out);
/* Frees the index (NULL is fine). */
void evolu_mem_index_destroy(evolu_mem_index *idx);

/* The store table over idx (valid while idx lives). */
void evolu_mem_index_store(evolu_mem_index *idx, evolu_store *out);

/* Number of items; sum of the stored changes' lengths (what the relay's
 * quota counts, spec 7.4). */
uint64_t evolu_mem_index_size(const evolu_mem_index *idx);
uint64_t evolu_mem_index_stored_bytes(const evolu_mem_index *idx);

/* Quota: a write whose new changes would bring the stored bytes above
 * max_bytes is refused with EVOLU_E_QUOTA and stores nothing. 0 = none. */
void evolu_mem_index_set_quota(evolu_mem_index *idx, uint64_t max_bytes);

/* Inserts one item (a batch of one). *inserted (may be NULL) tells whether
 * it was new. */
evolu_err evolu_mem_index_insert(evolu_mem_index *idx, const evolu_timestamp *ts,
                                 const uint8_t *change, size_t change_len, bool *inserted);

/* Fault injection for tests: the n-th store call from now (n >= 1), and every
 * call after it, fails with err; n = 0 turns failures off. */
void evolu_mem_index_fail_after(evolu_mem_index *idx, uint64_t n, evolu_err err);

#ifdef __cplusplus
}
#endif
#endif
