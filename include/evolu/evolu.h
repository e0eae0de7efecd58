/*
 * evolu/evolu.h - the client library an application embeds: one database
 * file, one owner, any number of relays.
 *
 *   evolu_options o = {.path = "app.db", .create_owner = true,
 *                      .relays = urls, .n_relays = 1, .tables = tables, .n_tables = 1};
 *   evolu *ev;
 *   evolu_open(&o, &ev);
 *   evolu_insert(ev, "todo", cols, 2, id);          stored at once, pushed if connected
 *   evolu_sync(ev, 30000);                           blocking: until converged
 *   sqlite3_prepare_v2(evolu_sqlite(ev), "select ...") read with plain SQL
 *   evolu_close(ev);
 *
 * Nothing is lost when no relay is reachable: every mutation is committed to
 * the database (and its sync set) before anything is sent, and the next
 * connection's sync delivers it.
 *
 * Two ways to run the network:
 *  - blocking: evolu_sync (until converged or timeout) and evolu_run (stay
 *    connected for a while, applying Broadcasts as they arrive);
 *  - inside the application's own poll loop: evolu_connect once, then each
 *    iteration evolu_poll_fds (the sockets and the longest wait), poll(), and
 *    evolu_service (non-blocking).
 * Connections subscribe to the owner, reconnect with backoff (0.25 s doubling
 * to 10 s) after a drop, and are closed and retried when a relay stays silent
 * while an answer is due (silence_timeout_ms).
 *
 * Not thread-safe: use a handle from one thread at a time.
 */
#ifndef EVOLU_EVOLU_H
#define EVOLU_EVOLU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/client_db.h"
#include "evolu/error.h"
#include "evolu/id.h"
#include "evolu/owner.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct pollfd;

typedef struct evolu evolu;

#define EVOLU_MAX_RELAYS 8

/* One table of the app's schema (columns besides the system ones). */
typedef struct evolu_table_def {
    const char *name;
    const char *const *columns;
    size_t n_columns;
} evolu_table_def;

typedef enum evolu_status {
    EVOLU_STATUS_CONNECTING = 0,
    EVOLU_STATUS_CONNECTED,    /* socket open, first sync sent (subscribed) */
    EVOLU_STATUS_CONVERGED,    /* every request answered, nothing left to send */
    EVOLU_STATUS_DISCONNECTED, /* dropped or could not connect; err says why; retrying */
    EVOLU_STATUS_STOPPED,      /* the relay or a batch refused (err): no retry */
    EVOLU_STATUS_WAITING,      /* evolu_sync still waiting for this relay (every 5 s) */
} evolu_status;

/* relay: index into options.relays. */
typedef void (*evolu_status_fn)(void *ctx, size_t relay, evolu_status status, evolu_err err);

typedef struct evolu_options {
    const char *path;               /* the database file (created if absent) */
    /* The owner. The database remembers it (see evolu/client_owner.h):
     * mnemonic NULL uses the stored one; a mnemonic sets it on a database
     * without owner (a different stored owner is EVOLU_E_STATE); with
     * neither, create_owner makes a fresh one, otherwise EVOLU_E_STATE. */
    const char *mnemonic;
    bool create_owner;
    const char *const *relays;      /* ws:// or wss:// URLs; ?ownerId= is added */
    size_t n_relays;                /* 0..EVOLU_MAX_RELAYS */
    const evolu_table_def *tables;  /* declared (created or extended) at open */
    size_t n_tables;
    const evolu_port *port;         /* NULL = libsodium and the system clock */
    size_t receive_max;             /* largest accepted frame; 0 = 1,000,000 */
    int silence_timeout_ms;         /* 0 = 30,000 */
    /* wss: CA bundle file; NULL = the system's (/etc/ssl/certs). */
    const char *ca_file;
    evolu_status_fn on_status;
    void *status_ctx;
} evolu_options;

/* Opens the database, sets up the owner and schema. Connects nothing yet.
 * Errors: EVOLU_E_ARG, EVOLU_E_URL, EVOLU_E_STATE (owner), the mnemonic's
 * errors, the database's errors. */
evolu_err evolu_open(const evolu_options *o, evolu **out);

/* Sends unsubscribe to open connections (best effort, briefly), closes
 * them and the database, and wipes the owner keys. NULL is fine. */
void evolu_close(evolu *ev);

/* The SQLite connection: read the app's tables with SQL. Write only through
 * evolu_mutate and friends. */
struct sqlite3 *evolu_sqlite(evolu *ev);
evolu_client_db *evolu_db(evolu *ev);
/* The owner id as 22 characters plus NUL. */
void evolu_owner_id(const evolu *ev, char out[EVOLU_ID_CHARS + 1]);
bool evolu_is_read_only(const evolu *ev);

/* Declares a table later (schema growth). */
evolu_err evolu_declare_table(evolu *ev, const evolu_table_def *t);

/* Local mutations (see evolu_client_db_mutate): committed first, then pushed
 * on open connections. EVOLU_E_STATE for a read-only owner. */
evolu_err evolu_mutate(evolu *ev, const evolu_mutation *m, size_t n,
                       uint8_t (*ids_out)[EVOLU_ID_BYTES]);
/* Shorthands. id_out (may be NULL) gets the new row's id as text. */
evolu_err evolu_insert(evolu *ev, const char *table, const evolu_column *cols, size_t n,
                       char id_out[EVOLU_ID_CHARS + 1]);
evolu_err evolu_update(evolu *ev, const char *table, const char *id, const evolu_column *cols,
                       size_t n);
evolu_err evolu_delete(evolu *ev, const char *table, const char *id);

/* Called after each batch that changed app rows (local or received). */
void evolu_on_change(evolu *ev, evolu_client_db_change_fn fn, void *ctx);

/* Runs fn for each row of sql with the row as a JSON object (evolu/client_json.h). */
evolu_err evolu_query(evolu *ev, const char *sql,
                      bool (*fn)(void *ctx, const char *json, size_t len), void *ctx,
                      char **errmsg);

/* --- network ------------------------------------------------------------------- */

/* Starts connecting to every relay (idempotent). */
evolu_err evolu_connect(evolu *ev);

/* Blocking: connects if needed, asks every relay for a sync now and runs
 * until all have converged. EVOLU_OK when converged; EVOLU_E_TIMEOUT
 * after timeout_ms (< 0 = no limit); EVOLU_E_CONNECT when no connection
 * could be opened in three attempts; a relay's or a batch's error
 * (EVOLU_E_WRITE_KEY, EVOLU_E_QUOTA, EVOLU_E_VERSION, EVOLU_E_DECRYPT,
 * EVOLU_E_WRITE, EVOLU_E_SYNC, invalid data, ...) as soon as a relay
 * answers with it. */
evolu_err evolu_sync(evolu *ev, int timeout_ms);

/* Blocking: stays connected for timeout_ms (< 0 = until evolu_stop),
 * applying Broadcasts and sync results as they arrive, reconnecting after
 * drops. Returns EVOLU_OK when the time is up or evolu_stop was called. */
evolu_err evolu_run(evolu *ev, int timeout_ms);

/* Makes evolu_run / evolu_sync return soon (async-signal-safe: sets a flag).
 * A stop made before the call, e.g. by a signal while evolu_open or the
 * connection was under way, makes the next call return at once; each call
 * consumes it. */
void evolu_stop(evolu *ev);

/* App loop: fills fds (up to cap) with the sockets to poll and *timeout_ms
 * with the longest the loop may wait; returns the number of fds (more than
 * cap means the array was too small). */
size_t evolu_poll_fds(evolu *ev, struct pollfd *fds, size_t cap, int *timeout_ms);
/* App loop: after poll() (whatever it returned), handles ready sockets and
 * due timers without blocking. fds/n as returned by poll (may be NULL/0). */
evolu_err evolu_service(evolu *ev, struct pollfd *fds, size_t n);

/* All relays converged and none stopped. */
bool evolu_is_converged(const evolu *ev);
/* The last error of relay i (EVOLU_OK if none). */
evolu_err evolu_relay_error(const evolu *ev, size_t relay);
/* libwebsockets' description of relay i's last connection failure (e.g. a
 * refused connection or an untrusted certificate); "" if none. */
const char *evolu_relay_error_detail(const evolu *ev, size_t relay);

#ifdef __cplusplus
}
#endif
#endif
