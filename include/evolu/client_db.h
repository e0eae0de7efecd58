/*
 * evolu/client_db.h - the client database (spec 8.1-8.3): a real SQLite file
 * holding the app's tables and the CRDT bookkeeping, so a C client shows the
 * same rows as the TypeScript client after applying the same messages.
 *
 * Host code (src/store): it allocates and uses SQLite. One handle per database
 * file; not thread-safe (use one handle per thread or lock around it).
 *
 * Layout (8.0.0-next.5, spec 8.1): evolu_version (protocolVersion 1),
 * evolu_config (the clock as TimestampBytes), evolu_history with its two
 * indexes, evolu_message_quarantine, evolu_timestamp and evolu_usage as on the
 * relay (spec 7.2), and evolu_message (ownerId, timestamp, change) holding the
 * EncryptedDbChange of every timestamp in the set - received ones exactly as
 * received, local ones as we encrypted them - so the set can be served to a
 * relay during sync without re-encrypting (spec 8.4 re-encrypts instead; both
 * are valid since relays keep whichever copy arrived first).
 *
 * evolu_timestamp: each row has ownerId and t, level l = 1, count c = 1 and
 * h1/h2 = the two 48-bit halves of the timestamp's own fingerprint. This is a
 * flat (level-1) set kept for the layout; RBSR reads the same set from a
 * counted B+-tree in this file (evolu_idx_owner, evolu_idx_node, see
 * evolu/sqlite_index.h) that every write updates in the same transaction
 * (evolu_client_db_store). A file without those tables is indexed on open.
 *
 * Application tables: ("id" text, "createdAt" any, "updatedAt" any,
 * "isDeleted" any, "ownerId" any, <columns> any, primary key (ownerId, id))
 * without rowid, strict. ownerId and id hold the 22-character strings; in
 * evolu_history / evolu_message_quarantine they are 16-byte blobs.
 *
 * Value storage classes: a number that is an integral safe integer (|n| <=
 * 2^53-1, not -0) is stored as INTEGER, any other number as REAL, text as
 * TEXT, bytes as BLOB, null as NULL. The Node client (better-sqlite3) stores
 * every number as REAL (typeof 'real', 1 as 1.0); apps read JS numbers either
 * way, and the value encoder writes integral REALs with the integer encodings
 * (spec 8.2, 11 item 6), so the choice never changes what is synced.
 *
 * Clock rules are 8.11.0's (evolu/hlc.h). Where 8.0.0-next.5 and 8.11.0 differ
 * here (spec 8.6) we keep the 8.0.0-next.5 table layout (the one the published
 * vectors show) and take from 8.11.0:
 *  - a received message whose timestamp is already in the owner's set is
 *    skipped (it changes nothing anyway: LWW needs a strictly greater stamp);
 *  - a batch that cannot be decrypted/parsed, or whose timestamps drift too
 *    far, is refused with a typed error and nothing is written. The caller
 *    must then stop syncing that owner (spec 11 item 8) rather than ask again.
 *    (8.11.0 would store a drifted message and quarantine its columns; we
 *    refuse it, as 8.0.0-next.5 does, so our clock and set never hold it.)
 *  - changes to local-only tables ("_" prefix) received via sync are never
 *    applied (their timestamp is still recorded).
 */
#ifndef EVOLU_CLIENT_DB_H
#define EVOLU_CLIENT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/dbchange.h"
#include "evolu/error.h"
#include "evolu/hlc.h"
#include "evolu/id.h"
#include "evolu/owner.h"
#include "evolu/port.h"
#include "evolu/store.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
typedef struct evolu_client_db evolu_client_db;

/* Called after each batch that changed application rows (received messages,
 * local mutations, released quarantine), with the distinct names of the
 * tables whose rows changed. The names are valid only during the call. The
 * callback must not call back into the database handle's write functions. */
typedef void (*evolu_client_db_change_fn)(void *ctx, const char *const *tables,
                                          size_t n_tables);

/* Opens or creates the database file at path (UTF-8). A new database gets the
 * evolu_* tables in one transaction and a clock with millis 0, counter 0 and
 * a random NodeId from port->random; an existing one keeps its clock. WAL
 * journal mode with synchronous=NORMAL: a killed process loses nothing it
 * committed, a power cut may lose the last batches but never consistency
 * (and sync fetches them again); no fsync per batch. Application tables
 * found in the file become the schema, and
 * quarantined rows that now fit it are released. The port must outlive the
 * handle. Errors: EVOLU_E_ARG, EVOLU_E_NOMEM, EVOLU_E_STORAGE (cannot open, not
 * an evolu database, SQLite failure). */
evolu_err evolu_client_db_open(const char *path, const evolu_port *port,
                               evolu_client_db **out);

/* Closes the handle (NULL is fine). */
void evolu_client_db_close(evolu_client_db *db);

/* The underlying SQLite connection, for the app's queries. Write to the evolu_*
 * tables only through this API. */
struct sqlite3 *evolu_client_db_sqlite(evolu_client_db *db);

/* Declares an application table and its columns (UTF-8 names). Creates the
 * table if it does not exist, otherwise adds the missing columns with `alter
 * table ... add column ... any` (columns are never dropped). Then releases
 * quarantined rows whose table and column now exist, through the same LWW path
 * as received messages. A name starting with "_" declares a local-only table.
 * Names are quoted with SQLite's identifier escaping, so any valid UTF-8 name
 * works, but EVOLU_E_ARG is returned for: an empty name, a control character,
 * invalid UTF-8, a table named evolu_* or sqlite_* (any case), a column named
 * like a system column (id, createdAt, updatedAt, isDeleted, ownerId), a
 * duplicate, or a name equal to an existing one except for ASCII case (SQLite
 * identifiers are case-insensitive, Evolu's are not). */
evolu_err evolu_client_db_declare_table(evolu_client_db *db, const char *table,
                                        const char *const *columns, size_t n_columns);

/* Registers the change callback (fn NULL removes it). */
void evolu_client_db_on_change(evolu_client_db *db, evolu_client_db_change_fn fn, void *ctx);

/* The current clock (as stored). */
void evolu_client_db_clock(const evolu_client_db *db, evolu_timestamp *out);

/* --- received messages (spec 8.2) ---------------------------------------------- */

typedef struct evolu_client_message {
    evolu_timestamp timestamp;
    const uint8_t *change; /* EncryptedDbChange */
    size_t change_len;
} evolu_client_message;

/* Why a batch was refused: the index of the message at fault and, for
 * EVOLU_E_CLOCK_DRIFT, the drift details. */
typedef struct evolu_client_db_failure {
    size_t index;
    evolu_hlc_drift drift;
} evolu_client_db_failure;

/* Applies one batch of received messages of one owner, all or nothing:
 *  1. decrypts and parses every message (EVOLU_E_DECRYPT,
 *     EVOLU_E_TIMESTAMP_MISMATCH, the parse errors of evolu_dbchange_parse);
 *  2. advances the clock with evolu_hlc_receive for each in order, with now =
 *     port->now_ms() read once (EVOLU_E_CLOCK_DRIFT, EVOLU_E_CLOCK_RANGE);
 *  3. in one transaction applies each message (LWW per column against
 *     evolu_history, unknown table/column to evolu_message_quarantine), adds
 *     its timestamp and change to the set, updates evolu_usage and stores the
 *     clock (EVOLU_E_STORAGE rolls everything back).
 * On any error nothing is written and the clock is unchanged; *failure (may be
 * NULL) tells which message. Then the change callback runs. */
evolu_err evolu_client_db_apply(evolu_client_db *db, const evolu_owner *owner,
                                const evolu_client_message *messages, size_t n,
                                evolu_client_db_failure *failure);

/* Applies the messages of a received protocol message (a Broadcast or a
 * Response) with evolu_client_db_apply. Its header's owner must be owner->id
 * (EVOLU_E_OWNER); malformed input gives the reader's errors; a Response with
 * an error code gives evolu_error_code_to_err's error. Ranges are ignored
 * (sync is another layer's job). */
evolu_err evolu_client_db_apply_protocol(evolu_client_db *db, const evolu_owner *owner,
                                         const uint8_t *bytes, size_t len,
                                         evolu_client_db_failure *failure);

/* --- local mutations (spec 8.3) ------------------------------------------------ */

typedef enum evolu_mutation_kind {
    EVOLU_MUTATION_INSERT = 0, /* isInsert = true: writes createdAt */
    EVOLU_MUTATION_UPSERT = 1, /* same change as insert (the TS difference is typing) */
    EVOLU_MUTATION_UPDATE = 2, /* isInsert = false: writes updatedAt */
    EVOLU_MUTATION_DELETE = 3  /* soft delete: an update with isDelete = true */
} evolu_mutation_kind;

typedef struct evolu_mutation {
    evolu_mutation_kind kind;
    const char *table;                /* a declared table */
    bool has_id;                      /* false: a random Id (written back to ids_out) */
    uint8_t id[EVOLU_ID_BYTES];
    const evolu_column *columns;      /* declared columns, no system columns */
    size_t n_columns;
    int8_t is_delete;                 /* -1 none, 0 undelete, 1 delete (DELETE forces 1) */
} evolu_mutation;

/* Applies a batch of local mutations of one owner, all or nothing. For synced
 * tables each change is stamped with clock = send(clock) (now read once; an
 * error, e.g. EVOLU_E_CLOCK_DRIFT, aborts the batch), encrypted with a fresh
 * nonce from port->random, applied through exactly the received-message path,
 * and its timestamp and EncryptedDbChange are stored in the set for sync. For
 * local-only tables ("_" prefix) nothing is stamped or stored: a delete
 * removes the row, otherwise the columns plus createdAt (insert/upsert) or
 * updatedAt (update) = ISO of now, and isDeleted when given, are upserted.
 * ids_out (may be NULL) receives each mutation's Id. Errors: EVOLU_E_ARG
 * (undeclared table or column, bad is_delete, invalid change as
 * evolu_dbchange_plaintext_len reports), EVOLU_E_LIMIT (a change whose
 * EncryptedDbChange would exceed evolu_msg_size_change_max(1,000,000) =
 * 999,825 bytes: no protocol message could ever carry it), clock errors,
 * EVOLU_E_CRYPTO, EVOLU_E_NOMEM, EVOLU_E_STORAGE. Then the change callback runs. */
evolu_err evolu_client_db_mutate(evolu_client_db *db, const evolu_owner *owner,
                                 const evolu_mutation *mutations, size_t n,
                                 uint8_t (*ids_out)[EVOLU_ID_BYTES]);

/* --- sync (spec 6) ---------------------------------------------------------------- */

/* An evolu_store (evolu/store.h) over owner's set in this database, for the RBSR engine (evolu_client_handle): size / fingerprint / lower bound / iterate / read_change come from the O(log N) index; write_messages decrypts and applies the batch with evolu_client_db_apply semantics and indexes it, all in one transaction. Local mutations (evolu_client_db_mutate) are indexed too. owner must outlive the store; valid until close. */
evolu_err evolu_client_db_store(evolu_client_db *db, const evolu_owner *owner, evolu_store *out);

/* Releases quarantined rows whose table and column exist now (done already by
 * open and declare_table; exposed for callers that alter the schema by other
 * means). *released (may be NULL) gets the number of rows released. */
evolu_err evolu_client_db_release_quarantine(evolu_client_db *db, size_t *released);

#ifdef __cplusplus
}
#endif

#endif
