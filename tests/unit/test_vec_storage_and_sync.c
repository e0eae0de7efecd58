/* test_vec_storage_and_sync.c - storage_and_sync.json (spec 5.6, 6.1-6.9):
 * store sizes, fingerprints, balanced buckets, fingerprint ranges and the
 * initial sync messages for 0/1/2/31/32/33/100 items, and every client <->
 * relay transcript byte for byte, driving our initiator and our non-initiator
 * over two in-memory indexes: for 8.11.0 and for 8.0.0-next.5 (with the
 * bug-compatible splitRange on both sides), each once with scratch memory for
 * the peer's Timestamps lists and once streaming without it, over the
 * in-memory index (also on the device, under QEMU). test_vec_storage_and_sync_sqlite.c
 * runs it all again over the SQLite index (evolu/sqlite_index.h, an
 * in-memory database per store), which must give the same bytes.
 *
 * Also the one protocol_messages.json vector that needs these items:
 * relay_responses.relay_has_5_client_empty, answered by our relay over a
 * store holding items 0..4 (counted here, since its data lives here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/store.h"
#include "vec.h"

static _Noreturn void die(const char *why) {
    fprintf(stderr, "test_vec_storage_and_sync: %s\n", why);
    exit(2);
}

#define MAX_ITEMS 600
#define MSGS_CAP 2048
#define RANGES_CAP 8192
#ifdef EVOLU_DEVICE
/* The test board has 4 MiB of RAM; the largest message of these transcripts
 * is 16,435 bytes, so a quarter megabyte per reply buffer is plenty. */
#define REPLY_CAP (256u * 1000u)
#else
#define REPLY_CAP (2u * 1000u * 1000u)
#endif
#define SCRATCH_CAP 4096

static evolu_timestamp g_ts[MAX_ITEMS];
static uint8_t *g_change[MAX_ITEMS];
static size_t g_len[MAX_ITEMS];
static size_t g_items;
static uint8_t g_owner[16];
static uint8_t g_write_key[16];

static evolu_msg_entry g_msgs[MSGS_CAP];
static evolu_range_entry g_ranges[RANGES_CAP];
/* the SQLite index hands out changes from the arena: room for a full reply */
static uint8_t g_arena[RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE + REPLY_CAP];
static uint8_t g_scratch[SCRATCH_CAP][EVOLU_TIMESTAMP_BYTES];

static void load_items(const cJSON *root) {
    const cJSON *ts = vec_get(root, "items_timestamps");
    const cJSON *ch = vec_get(root, "items_encrypted_changes");
    g_items = 0;
    for (int i = 0; i < cJSON_GetArraySize(ts) && i < MAX_ITEMS; i++) {
        uint8_t b[16];
        if (vec_unhex(cJSON_GetArrayItem(ts, i)->valuestring, b, 16) != 16 ||
            evolu_timestamp_from_bytes(b, &g_ts[i]) != EVOLU_OK) {
            fprintf(stderr, "bad item timestamp %d\n", i);
            exit(2);
        }
        g_change[i] = vec_unhex_alloc(cJSON_GetArrayItem(ch, i)->valuestring, &g_len[i]);
        g_items++;
    }
}

/* A store under test: the in-memory index, or the SQLite index over an
 * in-memory database (g_sqlite says which). This program runs the engine
 * over the in-memory index - on the host and on the device (it needs only
 * malloc); test_vec_storage_and_sync_sqlite.c includes this file to run the
 * same transcripts over the SQLite index (host only). */
#ifdef EVOLU_SYNC_VECTORS_SQLITE
static const bool g_sqlite = true;
#else
static const bool g_sqlite = false;
#endif
typedef struct tstore {
    evolu_mem_index *mem;
#ifdef EVOLU_SYNC_VECTORS_SQLITE
    evolu_sqlite_index *sql;
#endif
    evolu_store s;
} tstore;

static void insert_item(tstore *t, size_t i) {
    evolu_store_array_batch a;
    evolu_store_batch b;
    const uint8_t *ch = g_change[i];
    evolu_store_batch_from_array(&b, &a, &g_ts[i], &ch, &g_len[i], 1);
    if (i >= g_items) die("an item index beyond the items");
    evolu_err e = t->s.write_messages(t->s.ctx, &b);
    if (e) {
        fprintf(stderr, "test_vec_storage_and_sync: item %lu: %s\n", (unsigned long)i,
                evolu_strerror(e));
        exit(2);
    }
}

/* A store holding the items listed in indices, or else items 0 .. count-1. */
static void index_of(tstore *t, const cJSON *indices, size_t count) {
    memset(t, 0, sizeof *t);
#ifdef EVOLU_SYNC_VECTORS_SQLITE
    static const uint8_t owner[16] = {1};
    if (evolu_sqlite_index_open_path(vec_port(), ":memory:", &t->sql) ||
        evolu_sqlite_index_store(t->sql, owner, &t->s))
        die("cannot open the SQLite index");
#else
    if (evolu_mem_index_create(vec_port(), &t->mem)) die("cannot create the in-memory index");
    evolu_mem_index_store(t->mem, &t->s);
#endif
    if (indices) {
        const cJSON *x;
        cJSON_ArrayForEach(x, indices) insert_item(t, (size_t)x->valuedouble);
    } else {
        for (size_t i = 0; i < count; i++) insert_item(t, i);
    }
}

static uint64_t tstore_size(tstore *t) {
    uint64_t n = 0;
    if (t->s.size(t->s.ctx, &n)) die("store size failed");
    return n;
}

static void tstore_close(tstore *t) {
    evolu_mem_index_destroy(t->mem);
#ifdef EVOLU_SYNC_VECTORS_SQLITE
    evolu_sqlite_index_close(t->sql);
#endif
}

static const char *backend(void) { return g_sqlite ? "sqlite" : "mem"; }

static void builder(evolu_msg_builder *b) {
    evolu_msg_builder_init(b, g_msgs, MSGS_CAP, g_ranges, RANGES_CAP, g_arena, sizeof g_arena);
}

static bool bytes_eq_hex(const uint8_t *p, size_t n, const char *hex) {
    size_t wn;
    uint8_t *want = vec_unhex_alloc(hex, &wn);
    bool ok = wn == n && !memcmp(p, want, n);
    free(want);
    return ok;
}

/* The owner id and write key used by the generator, taken from the vectors'
 * own messages: the initial sync message's header and a client Request that
 * carries the key. */
static void owner_from_vectors(const cJSON *root) {
    size_t n;
    const cJSON *f0 = cJSON_GetArrayItem(vec_get(root, "fingerprints_and_initial_sync_messages"), 0);
    uint8_t *m = vec_unhex_alloc(vec_str(f0, "syncMessage"), &n);
    evolu_reader r = evolu_reader_make(m, n);
    evolu_header h;
    if (evolu_header_decode(&r, &h)) die("cannot decode a header");
    memcpy(g_owner, h.owner_id, 16);
    free(m);
    const cJSON *t;
    cJSON_ArrayForEach(t, vec_get(root, "transcripts")) {
        const cJSON *steps = vec_v11(t, "steps");
        const cJSON *s;
        cJSON_ArrayForEach(s, steps) {
            const cJSON *hex = vec_v11(s, "hex");
            if (!hex || strcmp(vec_str(s, "from"), "client")) continue;
            m = vec_unhex_alloc(hex->valuestring, &n);
            r = evolu_reader_make(m, n);
            bool found = evolu_header_decode(&r, &h) == EVOLU_OK && h.has_write_key;
            if (found) memcpy(g_write_key, h.write_key, 16);
            free(m);
            if (found) return;
        }
    }
    fprintf(stderr, "no write key in the transcripts\n");
    exit(2);
}

/* --- fingerprints_and_initial_sync_messages ------------------------------------------ */

static void fingerprints(const cJSON *root, uint8_t *reply) {
    vec_section("fingerprints_and_initial_sync_messages");
    const evolu_port *port = vec_port();
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "fingerprints_and_initial_sync_messages")) {
        size_t count = (size_t)vec_num(v, "count");
        tstore ts;
        index_of(&ts, NULL, count);
        evolu_store s = ts.s;
        uint64_t size = 0;
        vec_check(s.size(s.ctx, &size) == EVOLU_OK && size == (uint64_t)vec_num(v, "getSize"),
                  "[%s] count %zu: getSize %llu", backend(), count, (unsigned long long)size);
        uint8_t fp[12], naive[12] = {0};
        vec_check(s.fingerprint(s.ctx, 0, size, fp) == EVOLU_OK &&
                      bytes_eq_hex(fp, 12, vec_str(v, "fingerprintAll")),
                  "[%s] count %zu: fingerprintAll %s", backend(), count, vec_hex(fp, 12));
        for (size_t i = 0; i < count; i++) {
            uint8_t tb[16], h[32];
            evolu_timestamp_to_bytes(&g_ts[i], tb);
            port->sha256(port->ctx, h, tb, 16);
            evolu_fingerprint_xor(naive, h);
        }
        vec_check(bytes_eq_hex(naive, 12, vec_str(v, "xorOfSha256Prefixes")),
                  "[%s] count %zu: xor of SHA-256 prefixes %s", backend(), count,
                  vec_hex(naive, 12));

        evolu_rbsr r;
        evolu_rbsr_init(&r, &s, false, NULL, 0);
        evolu_msg_builder b;
        builder(&b);
        const cJSON *buckets = cJSON_GetObjectItemCaseSensitive(v, "buckets");
        uint64_t got[16];
        bool have = evolu_rbsr_balanced_buckets(count, got);
        if (buckets) {
            bool ok = have && cJSON_GetArraySize(buckets) == 16;
            for (int i = 0; ok && i < 16; i++)
                ok = got[i] == (uint64_t)cJSON_GetArrayItem(buckets, i)->valuedouble;
            vec_check(ok, "[%s] count %zu: buckets", backend(), count);
            /* fingerprintRanges = what splitRange(0, n, Infinite) adds */
            const cJSON *fr = vec_get(v, "fingerprintRanges");
            evolu_header h;
            evolu_header_response(&h, g_owner, 0);
            ok = evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK &&
                 evolu_rbsr_split_range(&r, &b, 0, count, NULL) == EVOLU_OK &&
                 b.n_ranges == (size_t)cJSON_GetArraySize(fr);
            for (size_t i = 0; ok && i < b.n_ranges; i++) {
                const cJSON *e = cJSON_GetArrayItem(fr, (int)i);
                const char *ub = vec_str(e, "upperBound");
                const evolu_range_entry *re = &b.ranges[i];
                uint8_t tb[16];
                evolu_timestamp_to_bytes(&re->upper, tb);
                ok = re->type == EVOLU_RANGE_FINGERPRINT &&
                     bytes_eq_hex(re->fingerprint, 12, vec_str(e, "fingerprint")) &&
                     (!strcmp(ub, "Infinite") ? re->infinite
                                              : !re->infinite && bytes_eq_hex(tb, 16, ub));
            }
            vec_check(ok, "[%s] count %zu: fingerprintRanges", backend(), count);
        } else {
            vec_check(!have, "[%s] count %zu: computeBalancedBuckets must fail below 32",
                      backend(), count);
        }

        evolu_writer w = evolu_writer_make(reply, REPLY_CAP);
        evolu_err e = evolu_rbsr_sync_request(&r, &b, g_owner, EVOLU_SUBSCRIPTION_SUBSCRIBE);
        if (!e) e = evolu_msg_builder_emit(&b, &w);
        vec_check(!e && bytes_eq_hex(reply, w.len, vec_str(v, "syncMessage")),
                  "[%s] count %zu: syncMessage %s (%s)", backend(), count, vec_hex(reply, w.len),
                  evolu_errname(e));
        tstore_close(&ts);
    }
}

/* --- transcripts ---------------------------------------------------------------------- */

typedef struct relay_env {
    evolu_store store;
    uint8_t key[16];
    bool has_key;
} relay_env;

static evolu_err env_open(void *ctx, const uint8_t owner[16], evolu_store *out) {
    (void)owner;
    *out = ((relay_env *)ctx)->store;
    return EVOLU_OK;
}
static evolu_err env_get_key(void *ctx, const uint8_t owner[16], uint8_t key[16], bool *found) {
    (void)owner;
    relay_env *env = ctx;
    *found = env->has_key;
    if (env->has_key) memcpy(key, env->key, 16);
    return EVOLU_OK;
}
static evolu_err env_set_key(void *ctx, const uint8_t owner[16], const uint8_t key[16]) {
    (void)owner;
    relay_env *env = ctx;
    memcpy(env->key, key, 16);
    env->has_key = true;
    return EVOLU_OK;
}

static void run_transcript(const cJSON *t, bool v11, bool scratch, uint8_t *buf_a,
                           uint8_t *buf_b) {
    const char *name = vec_str(t, "name");
    const char *label = v11 ? "8.11.0" : "8.0.0-next.5";
    const char *mode = g_sqlite ? (scratch ? "sorted, sqlite" : "streaming, sqlite")
                                : (scratch ? "sorted" : "streaming");
    const cJSON *steps = v11 ? vec_v11(t, "steps") : vec_next5(t, "steps");
    size_t ranges_max = (size_t)vec_num(t, "rangesMaxSize");
    size_t relay_total = (size_t)vec_num(t, "relayTotalMaxSize");

    tstore ci, ri;
    index_of(&ci, vec_get(t, "clientHas"), 0);
    index_of(&ri, vec_get(t, "relayHas"), 0);
    evolu_store cs = ci.s, rs = ri.s;

    relay_env env;
    memset(&env, 0, sizeof env);
    env.store = rs;
    evolu_relay_config rc;
    memset(&rc, 0, sizeof rc);
    rc.port = vec_port();
    rc.ctx = &env;
    rc.open_store = env_open;
    rc.get_write_key = env_get_key;
    rc.set_write_key = env_set_key;
    rc.total_max = relay_total;
    rc.ranges_max = ranges_max;
    rc.next5_split_bug = !v11;
    rc.scratch = scratch ? g_scratch : NULL;
    rc.scratch_cap = scratch ? SCRATCH_CAP : 0;

    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = g_owner;
    cc.store = &cs;
    cc.write_key = g_write_key;
    cc.ranges_max = ranges_max;
    cc.next5_split_bug = !v11;
    cc.scratch = rc.scratch;
    cc.scratch_cap = rc.scratch_cap;

    evolu_msg_builder b;
    builder(&b);
    uint8_t *cur = buf_a, *next = buf_b;
    size_t cur_len = 0;
    int i = 0;
    bool alive = true;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps) {
        const char *from = vec_str(s, "from");
        const cJSON *hex = v11 ? vec_v11(s, "hex") : vec_next5(s, "hex");
        const cJSON *result = v11 ? vec_v11(s, "result") : vec_next5(s, "result");
        if (!alive) {
            vec_check(false, "%s [%s, %s] step %d: not reached", name, label, mode, i);
            i++;
            continue;
        }
        evolu_writer w = evolu_writer_make(next, REPLY_CAP);
        evolu_err e;
        bool ok;
        if (i == 0) {
            evolu_rbsr r;
            evolu_rbsr_init(&r, &cs, !v11, NULL, 0);
            e = evolu_rbsr_sync_request(&r, &b, g_owner, EVOLU_SUBSCRIPTION_NONE);
            if (!e) e = evolu_msg_builder_emit(&b, &w);
            ok = !e && hex && bytes_eq_hex(next, w.len, hex->valuestring);
        } else if (!strcmp(from, "relay")) {
            evolu_relay_outcome out;
            e = evolu_relay_handle(&rc, cur, cur_len, &b, &w, &out);
            ok = !e && hex && bytes_eq_hex(next, w.len, hex->valuestring);
        } else {
            evolu_client_outcome out;
            e = evolu_client_handle(&cc, cur, cur_len, &b, &w, &out);
            if (hex) {
                ok = !e && out.status == EVOLU_CLIENT_RESPONSE &&
                     bytes_eq_hex(next, w.len, hex->valuestring);
            } else {
                /* 8.11.0 "Converged", 8.0.0-next.5 "NoResponse": no reply */
                const char *want = result ? result->valuestring : "?";
                ok = !e && out.status == EVOLU_CLIENT_CONVERGED &&
                     !strcmp(want, v11 ? "Converged" : "NoResponse");
                w.len = 0;
            }
        }
        vec_check(ok, "%s [%s, %s] step %d (%s): %s, got %zu bytes %s", name, label, mode, i,
                  from, evolu_errname(e), w.len, vec_hex(next, w.len < 64 ? w.len : 64));
        if (!ok) alive = false;
        uint8_t *tmp = cur;
        cur = next;
        next = tmp;
        cur_len = w.len;
        i++;
    }
    const cJSON *fin = vec_get(t, "final");
    uint64_t csz = tstore_size(&ci), rsz = tstore_size(&ri);
    vec_check(alive && csz == (uint64_t)vec_num(fin, "clientSize") &&
                  rsz == (uint64_t)vec_num(fin, "relaySize"),
              "%s [%s, %s]: final sizes client %llu relay %llu", name, label, mode,
              (unsigned long long)csz, (unsigned long long)rsz);
    tstore_close(&ci);
    tstore_close(&ri);
}

static void transcripts(const cJSON *root, uint8_t *a, uint8_t *b) {
    vec_section("transcripts");
    const cJSON *t;
    cJSON_ArrayForEach(t, vec_get(root, "transcripts")) {
        for (int v = 0; v < 2; v++)
            for (int sc = 0; sc < 2; sc++) run_transcript(t, v == 0, sc == 0, a, b);
    }
}

/* --- protocol_messages.json relay_responses.relay_has_5_client_empty ------------------ */

static cJSON *load_json(const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", EVOLU_VECTORS_DIR, file);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open protocol_messages.json");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read protocol_messages.json");
    buf[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) die("protocol_messages.json: not valid JSON or out of memory");
    return j;
}

static void relay_has_5(uint8_t *reply) {
    vec_section("protocol_messages.json relay_responses.relay_has_5_client_empty");
    cJSON *pm = load_json("protocol_messages.json");
    const cJSON *v = vec_get(vec_get(pm, "relay_responses"), "relay_has_5_client_empty");
    tstore idx;
    index_of(&idx, NULL, 5);
    relay_env env;
    memset(&env, 0, sizeof env);
    env.store = idx.s;
    evolu_relay_config rc;
    memset(&rc, 0, sizeof rc);
    rc.port = vec_port();
    rc.ctx = &env;
    rc.open_store = env_open;
    rc.get_write_key = env_get_key;
    rc.set_write_key = env_set_key;
    size_t n;
    uint8_t *req = vec_unhex_alloc(vec_str(v, "request"), &n);
    evolu_msg_builder b;
    builder(&b);
    evolu_writer w = evolu_writer_make(reply, REPLY_CAP);
    evolu_relay_outcome out;
    evolu_err e = evolu_relay_handle(&rc, req, n, &b, &w, &out);
    vec_check(!e && bytes_eq_hex(reply, w.len, vec_str(v, "hex")),
              "[%s] relay_has_5_client_empty: %s %s", backend(), evolu_errname(e),
              vec_hex(reply, w.len));
    free(req);
    tstore_close(&idx);
    cJSON_Delete(pm);
}

int main(void) {
    cJSON *root = vec_open("storage_and_sync.json");
    load_items(root);
    owner_from_vectors(root);
    uint8_t *a = malloc(REPLY_CAP), *b = malloc(REPLY_CAP);
    if (!a || !b) die("out of memory for the reply buffers");
    fingerprints(root, a);
    transcripts(root, a, b);
    relay_has_5(a);
    free(a);
    free(b);
    for (size_t i = 0; i < g_items; i++) free(g_change[i]);
    cJSON_Delete(root);
    return vec_finish();
}
