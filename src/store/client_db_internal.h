/*
 * client_db_internal.h - shared internals of the client database
 * (client_db_schema.c, client_db_apply.c, client_db_quarantine.c,
 * client_db_mutate.c). Not a public header.
 */
#ifndef EVOLU_CLIENT_DB_INTERNAL_H
#define EVOLU_CLIENT_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/client_db.h"
#include "evolu/sqlite_index.h"

/* The evolu_* tables of a new database (spec 8.1, 7.2), in one script. */
extern const char cdb_create_sql[];

/* An application table as the database has it (names as declared). */
typedef struct cdb_table {
    char *name;
    char **cols; /* user columns, without the five system columns */
    size_t n_cols;
} cdb_table;

/* Prepared statements used for every message. */
enum {
    CDB_ST_LWW,         /* exists a history stamp >= T for (owner, table, id, column) */
    CDB_ST_HISTORY,     /* insert into evolu_history ... on conflict do nothing */
    CDB_ST_QUARANTINE,  /* insert into evolu_message_quarantine ... on conflict do nothing */
    CDB_ST_TS_INSERT,   /* insert into evolu_timestamp ... on conflict do nothing */
    CDB_ST_MSG_INSERT,  /* insert into evolu_message */
    CDB_ST_USAGE,       /* upsert evolu_usage */
    CDB_ST_CLOCK,       /* update evolu_config */
    CDB_ST_COUNT
};

/* evolu_history rows waiting for one multi-row insert (client_db_history.c). */
typedef struct cdb_hist cdb_hist;
/* app-table upserts waiting for one multi-row statement (client_db_rows.c) */
typedef struct cdb_rows cdb_rows;

/* An RBSR store over one owner's set (client_db_store.c). */
typedef struct cdb_store cdb_store;

/* A cached upsert of a set of columns of one table: slot bits as in
 * cdb_column_slot (0 createdAt, 1 updatedAt, 2 isDeleted, 3 + j user column j). */
typedef struct cdb_upsert {
    const cdb_table *table;
    uint64_t mask;
    sqlite3_stmt *st;
} cdb_upsert;
#define CDB_SLOTS 64
/* cells of one row per LWW query / history insert */
#define CDB_CHUNK 8

/* Memory reused by every received batch (no allocation per message). */
typedef struct cdb_decoded {
    size_t col0; /* first column in cdb_batch_mem.cols */
    evolu_dbchange change;
} cdb_decoded;

typedef struct cdb_batch_mem {
    uint8_t *plain; /* every plaintext of the batch, back to back */
    size_t plain_cap;
    cdb_decoded *d;
    size_t d_cap;
    evolu_column *cols;
    size_t *text_off; /* per column: offset of its derived text in text, or SIZE_MAX */
    size_t n_cols, cols_cap, off_cap;
    uint8_t *text; /* derived text (e.g. numbers turned into text) */
    size_t text_len, text_cap;
    evolu_client_message *msgs; /* apply_protocol's message list */
    size_t msgs_cap;
    uint8_t *ts;    /* TimestampBytes of every message, back to back */
    uint8_t *added; /* per message: 1 = its stamp was new (client_db_stamps.c) */
    size_t ts_cap, added_cap;
} cdb_batch_mem;

/* stamps per multi-row insert (client_db_stamps.c) */
#define CDB_STAMP_CHUNK 32

/* What the LWW check knows without SQL (client_db_lww.c). */
enum { CDB_LWW_MAX_UNKNOWN, CDB_LWW_MAX_NONE, CDB_LWW_MAX_KNOWN };
typedef struct cdb_lww {
    struct cdb_lww_cell *cells; /* direct-mapped, allocated at first use */
    bool active;                /* inside one of our transactions, token checked */
    bool token_ok;              /* data_version/total_changes taken after our commit */
    int64_t data_version, total_changes;
    int max_state; /* of max_owner's largest evolu_history timestamp */
    uint8_t max_owner[EVOLU_OWNER_ID_BYTES];
    uint8_t max[EVOLU_TIMESTAMP_BYTES];
    sqlite3_stmt *dv_st, *max_st;
} cdb_lww;

struct evolu_client_db {
    sqlite3 *db;
    /* the O(log N) index of every timestamp in evolu_timestamp, per owner,
     * over evolu_message (its tables evolu_idx_owner/evolu_idx_node live in
     * this file) */
    evolu_sqlite_index *idx;
    cdb_store *stores;
    const evolu_port *port;
    evolu_timestamp clock;
    cdb_table *tables;
    size_t n_tables;
    sqlite3_stmt *st[CDB_ST_COUNT];
    evolu_client_db_change_fn on_change;
    void *on_change_ctx;
    cdb_upsert *ups;
    size_t n_ups, cap_ups;
    sqlite3_stmt *lww_st[CDB_CHUNK + 1], *hist_st[CDB_CHUNK + 1]; /* by cell count */
    cdb_batch_mem mem;
    cdb_lww lww;
    cdb_hist *hist;
    cdb_rows *rows;
    sqlite3_stmt *ts_st[CDB_STAMP_CHUNK + 1], *msg_st[CDB_STAMP_CHUNK + 1]; /* by row count */
    /* tables changed in the batch being applied */
    char **changed;
    size_t n_changed, cap_changed;
};

/* A value to store: either a decoded evolu_value or a value read back from
 * SQLite (quarantine release). */
typedef struct cdb_val {
    const evolu_value *v;
    sqlite3_value *sv;
} cdb_val;

/* --- schema (client_db_schema.c) --- */
evolu_err cdb_exec(evolu_client_db *db, const char *sql);
const cdb_table *cdb_find_table(const evolu_client_db *db, const uint8_t *name, size_t len);
bool cdb_table_has_column(const cdb_table *t, const uint8_t *name, size_t len);
bool cdb_is_system_column(const uint8_t *name, size_t len);
bool cdb_is_local_only(const uint8_t *name, size_t len);
evolu_err cdb_store_clock(evolu_client_db *db, const evolu_timestamp *clock);

/* --- apply (client_db_apply.c) --- */
/* Finalizes the cached upserts (the schema changed or the handle closes). */
void cdb_upserts_clear(evolu_client_db *db);
/* Frees the batch memory. */
void cdb_batch_mem_free(evolu_client_db *db);
/* Binds v to parameter i with the storage class rules of client_db.h. Text
 * and bytes are bound without a copy: step the statement before they go. */
int cdb_bind_value(sqlite3_stmt *st, int i, const cdb_val *v);
/* LWW write of one column of (owner, table, id) at stamp ts, plus its history
 * row. column is the schema's own name (system or declared), never peer text. Records the table as changed when the row was written. */
evolu_err cdb_apply_column(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                           const char *column, const cdb_val *v,
                           const uint8_t ts[EVOLU_TIMESTAMP_BYTES]);
/* Applies one change at timestamp t (spec 8.2 "Apply one message"), inside
 * the caller's transaction; enc (may be NULL) is stored in evolu_message. */
evolu_err cdb_apply_change(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const evolu_timestamp *t, const evolu_dbchange *c,
                           const uint8_t *enc, size_t enc_len);
/* Applies the cells of change c at t (its stamp already recorded as new). */
evolu_err cdb_apply_cells(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const evolu_timestamp *t, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                          const evolu_dbchange *c);
/* Adds the stamps of m[0..n) to the set (evolu_timestamp, the RBSR index,
 * evolu_message), a chunk per statement, inside the caller's transaction and
 * key batch: ts receives their TimestampBytes (n x 16), added[i] = 1 when
 * m[i]'s stamp was new. On failure *failed is the message at fault. */
evolu_err cdb_record_stamps(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            const evolu_client_message *m, size_t n, uint8_t *ts,
                            uint8_t *added, size_t *failed);
void cdb_stamps_free(evolu_client_db *db);
/* Upserts evolu_usage for the stamps [first, last] just added. */
evolu_err cdb_update_usage(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const uint8_t first[EVOLU_TIMESTAMP_BYTES],
                           const uint8_t last[EVOLU_TIMESTAMP_BYTES]);
evolu_err cdb_changed_add(evolu_client_db *db, const char *table);
void cdb_changed_clear(evolu_client_db *db);
/* Calls the callback with the changed tables and clears the set. */
void cdb_changed_notify(evolu_client_db *db);

/* --- the RBSR store and its index (client_db_store.c) --- */
/* Opens db->idx on the handle; builds the index from evolu_timestamp when
 * the file has none yet (a database made before the index existed). */
evolu_err cdb_index_open(evolu_client_db *db);
/* Closes the index and frees the stores. */
void cdb_index_close(evolu_client_db *db);

/* --- LWW knowledge in memory (client_db_lww.c) --- */
/* After "begin immediate" of a write path: keeps what is known if the file is
 * unchanged since our last commit, else forgets it; enables the answers. */
void cdb_lww_begin(evolu_client_db *db);
/* Before "commit" (committed = true: the token is taken after our writes) or
 * on any failure (forgets everything). */
void cdb_lww_end(evolu_client_db *db, bool committed);
/* 1: ts beats every history stamp of the cell; 0: it does not; -1: unknown
 * (ask evolu_history). slot as in cdb_upsert. */
int cdb_lww_check(evolu_client_db *db, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                  const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], int slot,
                  const uint8_t ts[EVOLU_TIMESTAMP_BYTES]);
/* A history row of the cell at ts was just inserted; won = it was the
 * cell's newest. */
void cdb_lww_written(evolu_client_db *db, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                     const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], int slot,
                     const uint8_t ts[EVOLU_TIMESTAMP_BYTES], bool won);
/* Forgets everything (schema reloaded, tables freed). */
void cdb_lww_clear(evolu_client_db *db);
void cdb_lww_free(evolu_client_db *db);

/* --- history rows of a batch (client_db_history.c) --- */
/* True while history rows may wait (the LWW knowledge is active). */
bool cdb_history_deferred(const evolu_client_db *db);
/* Queues one history row (value copied); writes the queue when full. */
evolu_err cdb_history_add(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const char *table, const uint8_t id[EVOLU_ID_BYTES],
                          const char *column, const evolu_value *v,
                          const uint8_t ts[EVOLU_TIMESTAMP_BYTES]);
/* Writes the waiting rows: before any query of evolu_history and before
 * commit. */
evolu_err cdb_history_flush(evolu_client_db *db);
/* Forgets the waiting rows (the batch failed). */
void cdb_history_drop(evolu_client_db *db);
void cdb_history_free(evolu_client_db *db);

/* --- app-table rows of a batch (client_db_rows.c) --- */
/* Queues the upsert of the slots of mask of one row (values copied; every
 * vals[slot].v set); writes the queue when full or when the table or the
 * column set changes. Records the table as changed. */
evolu_err cdb_rows_add(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                       const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], uint64_t mask,
                       const cdb_val *vals);
/* Writes the waiting rows (before commit). */
evolu_err cdb_rows_flush(evolu_client_db *db);
void cdb_rows_drop(evolu_client_db *db);
/* Finalizes its statements (they name tables; the schema changed). */
void cdb_rows_clear_stmts(evolu_client_db *db);
void cdb_rows_free(evolu_client_db *db);
/* The schema name of a slot (client_db_apply.c). */
const char *cdb_slot_name(const cdb_table *t, int slot);

/* --- quarantine (client_db_quarantine.c) --- */
evolu_err cdb_quarantine_insert(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                const uint8_t ts[EVOLU_TIMESTAMP_BYTES], const uint8_t *table,
                                size_t table_len, const uint8_t id[EVOLU_ID_BYTES],
                                const uint8_t *column, size_t column_len, const cdb_val *v);

#endif
