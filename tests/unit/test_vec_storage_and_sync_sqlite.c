/*
 * test_vec_storage_and_sync_sqlite.c - the storage_and_sync.json transcripts
 * of test_vec_storage_and_sync.c again, over the SQLite index (an in-memory
 * database per store) instead of the in-memory one: both indexes must give
 * the engine the same bytes. Host only (SQLite).
 */
#define EVOLU_SYNC_VECTORS_SQLITE 1
#include "evolu/sqlite_index.h"

#include "test_vec_storage_and_sync.c"
