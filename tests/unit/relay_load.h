/* relay_load.h - a push-and-sync load on many WebSocket clients in one
 * thread (poll over all sockets), shared by the relay load test
 * (tests/unit/test_relay_load.c) and the relay benchmark
 * (bench/bench_relay.c), so both drive a relay exactly alike.
 *
 * N clients over M owners (client i belongs to owner i % M). A phase:
 *   1. every client without a socket connects (?ownerId=) and syncs with the
 *      Subscribe flag over its own in-memory index (RBSR from the core);
 *   2. once all are subscribed, each client pushes P times (closed loop: the
 *      next push after the Response) K encrypted changes built with the core
 *      (evolu_push_build), and every `sync_every` pushes runs an RBSR sync;
 *      latencies of pushes (send -> Response) are recorded;
 *   3. a last sync per client, then the phase waits until every subscriber
 *      received the Broadcast of every acknowledged push of the other
 *      clients of its owner.
 * Broadcasts and sync results go into the client's index, so after a phase
 * every client holds what the relay holds for its owner.
 *
 * Every timestamp names its push: node id = 0xEE, 0, 0, 0, client index
 * (big-endian, 4 bytes); millis = RL_BASE + seq * K + j. So a relay's
 * contents can be checked against what was acknowledged without keeping the
 * timestamps: rl_verify_owner syncs an owner into a fresh index and checks
 * that every acknowledged push is there completely, nothing else is there
 * but pushes that were sent, and every change decrypts to what was pushed.
 *
 * Static functions only; include once per program. */
#ifndef EVOLU_RELAY_LOAD_H
#define EVOLU_RELAY_LOAD_H

#include "ws_test_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "evolu/dbchange.h"
#include "evolu/id.h"
#include "evolu/mem_index.h"
#include "evolu/owner.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"

#define RL_BASE 1700000000000ull
#define RL_MAX_K 64

enum { RL_IDLE, RL_SYNC, RL_READY, RL_PUSH, RL_FINAL, RL_DONE, RL_DEAD };

typedef struct rl_conn {
    int fd, owner, idx, state, mate; /* mate: index among its owner's clients */
    uint8_t *in, *msg, *out;
    size_t in_len, in_cap, msg_len, out_len, out_off, out_cap;
    evolu_mem_index *mi;
    evolu_store st;
    uint32_t seq;         /* next push seq (over all phases) */
    uint32_t sent;        /* pushes sent (all phases) */
    uint32_t phase_left;  /* pushes still to do in this phase */
    uint32_t since_sync;
    int64_t t_sent_us;
    uint8_t *acked;       /* [max_seq]: 1 = acknowledged with errorCode 0 */
    uint8_t *got;         /* [cpo * max_seq]: Broadcast seen from mate m of seq q */
    uint32_t phase_seq0;  /* first seq of the current phase */
} rl_conn;

typedef struct rl_stats {
    uint64_t pushes_acked, msgs_acked, push_errors, syncs, sync_errors;
    uint64_t broadcasts, broadcast_msgs, bad_broadcasts, dup_broadcasts, resent_broadcasts;
    uint64_t unexpected, protocol_errors;
    uint64_t missing_broadcasts, connect_failures, died;
    int64_t push_us;      /* barrier -> last ack */
    uint64_t *lat_us;     /* push latencies of the phase */
    size_t n_lat, cap_lat;
} rl_stats;

typedef struct rl {
    int n, owners, cpo, k, sync_every;
    uint32_t max_seq;
    size_t change_pad;    /* extra bytes in each title (message size) */
    evolu_owner *own;
    rl_conn *c;
    struct pollfd *pf;
    int *pmap;            /* pf[j] is the socket of c[pmap[j]] */
    nfds_t rot;           /* where the last round of the loop started */
    rl_stats s;
    pid_t kill_pid;       /* SIGKILL it after kill_at acknowledged pushes of the phase */
    uint64_t kill_at;
    bool killed, check_broadcasts;
    /* scratch */
    evolu_msg_entry *msgs;
    evolu_range_entry *ranges;
    uint8_t *arena, *buf;
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
} rl;

#define RL_MSGS 40000
#define RL_RANGES 16384
#define RL_ARENA (2u << 20)
#define RL_BUF (1u << 20)
#define RL_SCRATCH 65536

static inline int64_t rl_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Raises the soft limit of open files to the hard one. */
static inline void rl_raise_nofile(void) {
    struct rlimit r;
    if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* CPU seconds (user + system) used so far by process pid (0 = this one),
 * from /proc; -1 if unknown. */
static inline double rl_cpu_secs(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, pid ? "/proc/%d/stat" : "/proc/self/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(ut + st) / (double)hz : -1;
}

/* Peak resident set of pid in kB (VmHWM), -1 if unknown. */
static inline long rl_vmhwm_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

static inline void rl_owner(int i, evolu_owner *o) {
    uint8_t secret[32];
    memset(secret, 0x5a, sizeof secret);
    secret[0] = (uint8_t)(i >> 8);
    secret[1] = (uint8_t)i;
    evolu_owner_from_secret(evolu_port_sodium(), secret, sizeof secret, o);
}

static inline bool rl_init(rl *L, int n, int owners, int k, uint32_t max_seq, int sync_every) {
    memset(L, 0, sizeof *L);
    if (n < owners || owners < 1 || k < 1 || k > RL_MAX_K) return false;
    L->n = n;
    L->owners = owners;
    L->cpo = (n + owners - 1) / owners;
    L->k = k;
    L->max_seq = max_seq;
    L->sync_every = sync_every;
    L->own = calloc((size_t)owners, sizeof *L->own);
    L->c = calloc((size_t)n, sizeof *L->c);
    L->pf = calloc((size_t)n, sizeof *L->pf);
    L->pmap = calloc((size_t)n, sizeof *L->pmap);
    L->msgs = calloc(RL_MSGS, sizeof *L->msgs);
    L->ranges = calloc(RL_RANGES, sizeof *L->ranges);
    L->arena = malloc(RL_ARENA);
    L->buf = malloc(RL_BUF + 14);
    L->scratch = calloc(RL_SCRATCH, EVOLU_TIMESTAMP_BYTES);
    if (!L->own || !L->c || !L->pf || !L->pmap || !L->msgs || !L->ranges || !L->arena || !L->buf ||
        !L->scratch)
        return false;
    for (int i = 0; i < owners; i++) rl_owner(i, &L->own[i]);
    for (int i = 0; i < n; i++) {
        rl_conn *c = &L->c[i];
        c->fd = -1;
        c->idx = i;
        c->owner = i % owners;
        c->mate = i / owners;
        c->acked = calloc(max_seq, 1);
        c->got = calloc((size_t)L->cpo * max_seq, 1);
        if (!c->acked || !c->got || evolu_mem_index_create(evolu_port_sodium(), &c->mi))
            return false;
        evolu_mem_index_store(c->mi, &c->st);
    }
    return true;
}

static inline void rl_free(rl *L) {
    for (int i = 0; L->c && i < L->n; i++) {
        rl_conn *c = &L->c[i];
        if (c->fd >= 0) close(c->fd);
        free(c->in);
        free(c->msg);
        free(c->out);
        free(c->acked);
        free(c->got);
        evolu_mem_index_destroy(c->mi);
    }
    free(L->c);
    free(L->own);
    free(L->pf);
    free(L->pmap);
    free(L->msgs);
    free(L->ranges);
    free(L->arena);
    free(L->buf);
    free(L->scratch);
    free(L->s.lat_us);
    memset(L, 0, sizeof *L);
}

static inline void rl_builder(rl *L, evolu_msg_builder *b) {
    evolu_msg_builder_init(b, L->msgs, RL_MSGS, L->ranges, RL_RANGES, L->arena, RL_ARENA);
}

static inline void rl_dead(rl *L, rl_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in_len = c->msg_len = c->out_len = c->out_off = 0;
    if (c->state != RL_DEAD) L->s.died++;
    c->state = RL_DEAD;
}

/* Writes what is queued without blocking; -1 if the socket failed. */
static inline int rl_flush_out(rl_conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) return 0;
        if (k <= 0) return -1;
        c->out_off += (size_t)k;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Queues one masked frame and tries to send it. */
static inline int rl_send(rl_conn *c, uint8_t opcode, const uint8_t *p, size_t n) {
    size_t need = c->out_len + n + 14;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < need) cap *= 2;
        uint8_t *q = realloc(c->out, cap);
        if (!q) return -1;
        c->out = q;
        c->out_cap = cap;
    }
    uint8_t *h = c->out + c->out_len;
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    static const uint8_t mask[4] = {0x1b, 0x7c, 0xe2, 0x55};
    memcpy(h + hl, mask, 4);
    hl += 4;
    for (size_t i = 0; i < n; i++) h[hl + i] = p[i] ^ mask[i & 3];
    c->out_len += hl + n;
    return rl_flush_out(c);
}

static inline void rl_ts(const rl *L, const rl_conn *c, uint32_t seq, int j, evolu_timestamp *t) {
    memset(t, 0, sizeof *t);
    t->millis = RL_BASE + (uint64_t)seq * (uint64_t)L->k + (uint64_t)j;
    t->node_id[0] = 0xEE;
    t->node_id[4] = (uint8_t)(c->idx >> 24);
    t->node_id[5] = (uint8_t)(c->idx >> 16);
    t->node_id[6] = (uint8_t)(c->idx >> 8);
    t->node_id[7] = (uint8_t)c->idx;
}

/* The title pushed at (client, seq, j); the same function checks it. */
static inline int rl_title(const rl *L, int client, uint64_t millis, char *out, size_t cap) {
    int k = snprintf(out, cap, "client %d at %llu ", client, (unsigned long long)millis);
    for (size_t i = 0; i < L->change_pad && (size_t)k + 1 < cap; i++) out[k++] = 'x';
    out[k] = 0;
    return k;
}

static inline int rl_start_sync(rl *L, rl_conn *c, uint8_t sub, int state) {
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, &c->st, false, NULL, 0);
    evolu_msg_builder b;
    rl_builder(L, &b);
    if (evolu_rbsr_sync_request(&rb, &b, L->own[c->owner].id, sub)) return -1;
    evolu_writer w = evolu_writer_make(L->buf, RL_BUF);
    if (evolu_msg_builder_emit(&b, &w)) return -1;
    c->state = state;
    L->s.syncs++;
    return rl_send(c, WSC_OP_BINARY, L->buf, w.len);
}

static inline int rl_start_push(rl *L, rl_conn *c) {
    evolu_crdt_message m[RL_MAX_K];
    evolu_column col[RL_MAX_K];
    char titles[RL_MAX_K][512];
    if (c->seq >= L->max_seq) return -1;
    for (int j = 0; j < L->k; j++) {
        memset(&m[j], 0, sizeof m[j]);
        rl_ts(L, c, c->seq, j, &m[j].timestamp);
        int n = rl_title(L, c->idx, m[j].timestamp.millis, titles[j], sizeof titles[j]);
        col[j].name = (const uint8_t *)"title";
        col[j].name_len = 5;
        col[j].value = evolu_value_text((const uint8_t *)titles[j], (size_t)n);
        m[j].change.table = (const uint8_t *)"todo";
        m[j].change.table_len = 4;
        evolu_id_from_hash(evolu_port_sodium(), (const uint8_t *)titles[j], (size_t)n,
                           m[j].change.id);
        m[j].change.columns = &col[j];
        m[j].change.n_columns = 1;
        m[j].change.is_insert = true;
        m[j].change.is_delete = -1;
    }
    evolu_msg_builder b;
    rl_builder(L, &b);
    size_t included = 0;
    if (evolu_push_build(&b, evolu_port_sodium(), &L->own[c->owner], m, (size_t)L->k, 0,
                         &included) ||
        included != (size_t)L->k)
        return -1;
    evolu_writer w = evolu_writer_make(L->buf, RL_BUF);
    if (evolu_msg_builder_emit(&b, &w)) return -1;
    c->state = RL_PUSH;
    c->t_sent_us = rl_now_us();
    c->seq++;
    c->sent++;
    c->phase_left--;
    return rl_send(c, WSC_OP_BINARY, L->buf, w.len);
}

/* After a push was answered or a sync converged: the client's next step. */
static inline int rl_next(rl *L, rl_conn *c) {
    if (c->state == RL_SYNC && c->phase_left == 0 && c->since_sync == 0) {
        c->state = RL_READY; /* the subscribe sync of a phase */
        return 0;
    }
    if (c->state == RL_FINAL) {
        c->state = RL_DONE;
        return 0;
    }
    if (c->phase_left == 0) return rl_start_sync(L, c, EVOLU_SUBSCRIPTION_NONE, RL_FINAL);
    if (L->sync_every && c->since_sync >= (uint32_t)L->sync_every) {
        c->since_sync = 0;
        return rl_start_sync(L, c, EVOLU_SUBSCRIPTION_NONE, RL_SYNC);
    }
    return rl_start_push(L, c);
}

static inline void rl_lat(rl *L, uint64_t us) {
    if (L->s.n_lat == L->s.cap_lat) {
        size_t cap = L->s.cap_lat ? L->s.cap_lat * 2 : 4096;
        uint64_t *q = realloc(L->s.lat_us, cap * sizeof *q);
        if (!q) return;
        L->s.lat_us = q;
        L->s.cap_lat = cap;
    }
    L->s.lat_us[L->s.n_lat++] = us;
}

/* Records a Broadcast to c. A push's Broadcast holds exactly that push (K
 * messages of one other client of the owner); it is marked in c->got. A
 * relay also broadcasts the messages a client sends in a sync (the relay
 * lacked them, e.g. because its reply raced with a write): such a Broadcast
 * may mix pushes and is counted in `resent`. Anything else (a message never
 * pushed for this owner, ranges) is bad. */
static inline void rl_on_broadcast(rl *L, rl_conn *c, evolu_msg_reader *r) {
    L->s.broadcasts++;
    evolu_timestamp t;
    const uint8_t *ch;
    size_t cl;
    long from = -1;
    uint64_t seq = 0, n = 0;
    bool valid = r->n_ranges == 0, one_push = true;
    while (!evolu_msg_reader_next_message(r, &t, &ch, &cl)) {
        long idx = (long)((uint32_t)t.node_id[4] << 24 | (uint32_t)t.node_id[5] << 16 |
                          (uint32_t)t.node_id[6] << 8 | t.node_id[7]);
        uint64_t q = t.millis >= RL_BASE ? (t.millis - RL_BASE) / (uint64_t)L->k : 0;
        if (t.millis < RL_BASE || t.node_id[0] != 0xEE || idx < 0 || idx >= L->n ||
            L->c[idx].owner != c->owner || q >= L->c[idx].seq)
            valid = false;
        if (n == 0) {
            from = idx;
            seq = q;
        }
        if (idx != from || q != seq || t.millis != RL_BASE + q * (uint64_t)L->k + n)
            one_push = false;
        n++;
    }
    L->s.broadcast_msgs += n;
    if (!valid || n == 0) {
        L->s.bad_broadcasts++;
        if (getenv("RL_DEBUG"))
            fprintf(stderr, "bad broadcast to %d: n=%llu ranges=%llu from=%ld seq=%llu\n",
                    c->idx, (unsigned long long)r->n_messages,
                    (unsigned long long)r->n_ranges, from, (unsigned long long)seq);
        return;
    }
    if (!one_push || n != (uint64_t)L->k || from == c->idx) {
        L->s.resent_broadcasts++;
        return;
    }
    uint8_t *g = &c->got[(size_t)L->c[from].mate * L->max_seq + seq];
    if (*g) L->s.dup_broadcasts++;
    *g = 1;
}

/* One complete message from the relay to c. */
static inline int rl_on_message(rl *L, rl_conn *c, const uint8_t *p, size_t n) {
    evolu_msg_reader r;
    if (evolu_msg_reader_open(&r, p, n) ||
        memcmp(r.header.owner_id, L->own[c->owner].id, EVOLU_OWNER_ID_BYTES)) {
        L->s.protocol_errors++;
        return 0;
    }
    bool sync = c->state == RL_SYNC || c->state == RL_FINAL;
    if (r.header.type == EVOLU_MESSAGE_BROADCAST) {
        rl_on_broadcast(L, c, &r);
    } else if (r.header.type != EVOLU_MESSAGE_RESPONSE || (!sync && c->state != RL_PUSH)) {
        L->s.unexpected++;
        return 0;
    } else if (c->state == RL_PUSH) {
        uint32_t q = c->seq - 1;
        if (r.header.error_code == 0) {
            c->acked[q] = 1;
            L->s.pushes_acked++;
            L->s.msgs_acked += (uint64_t)L->k;
            rl_lat(L, (uint64_t)(rl_now_us() - c->t_sent_us));
            if (L->kill_pid > 0 && !L->killed && L->s.pushes_acked >= L->kill_at) {
                kill(L->kill_pid, SIGKILL);
                L->killed = true;
            }
        } else {
            L->s.push_errors++;
        }
        c->since_sync++;
        return rl_next(L, c);
    }
    /* Broadcasts are applied to the index like sync results; Responses of a
     * sync continue it. */
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = L->own[c->owner].id;
    cc.store = &c->st;
    cc.write_key = L->own[c->owner].write_key;
    cc.scratch = L->scratch;
    cc.scratch_cap = RL_SCRATCH;
    evolu_msg_builder b;
    rl_builder(L, &b);
    evolu_writer w = evolu_writer_make(L->buf, RL_BUF);
    evolu_client_outcome oc;
    if (evolu_client_handle(&cc, p, n, &b, &w, &oc)) {
        L->s.sync_errors++;
        if (r.header.type == EVOLU_MESSAGE_BROADCAST) return 0;
        return rl_next(L, c); /* give up on this sync, go on */
    }
    if (r.header.type == EVOLU_MESSAGE_BROADCAST) return 0;
    if (oc.status == EVOLU_CLIENT_RESPONSE) return rl_send(c, WSC_OP_BINARY, L->buf, w.len);
    return rl_next(L, c);
}

/* Parses the frames in c->in; -1 when the connection should end. */
static inline int rl_on_input(rl *L, rl_conn *c) {
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && c->in_len - off >= 2) {
        const uint8_t *h = c->in + off;
        size_t avail = c->in_len - off, hl = 2;
        uint8_t op = h[0] & 0x0f;
        bool fin = h[0] & 0x80;
        uint64_t n = h[1] & 0x7f;
        if (n == 126) {
            if (avail < 4) break;
            n = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (n == 127) {
            if (avail < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = n << 8 | h[2 + i];
            hl = 10;
        }
        if (h[1] & 0x80) return -1; /* a server never masks */
        if (n > 200000000u) return -1;
        if (avail < hl + n) break;
        const uint8_t *p = h + hl;
        off += hl + (size_t)n;
        if (op == WSC_OP_PING) {
            rc = rl_send(c, WSC_OP_PONG, p, (size_t)n);
        } else if (op == WSC_OP_PONG) {
        } else if (op >= 0x8) {
            return -1; /* close */
        } else {
            uint8_t *q = realloc(c->msg, c->msg_len + (size_t)n + 1);
            if (!q) return -1;
            c->msg = q;
            memcpy(c->msg + c->msg_len, p, (size_t)n);
            c->msg_len += (size_t)n;
            if (fin) {
                size_t len = c->msg_len;
                c->msg_len = 0;
                rc = rl_on_message(L, c, c->msg, len);
            }
        }
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return rc;
}

static inline int rl_read(rl *L, rl_conn *c) {
    for (;;) {
        if (c->in_cap - c->in_len < 65536) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
            uint8_t *q = realloc(c->in, cap);
            if (!q) return -1;
            c->in = q;
            c->in_cap = cap;
        }
        ssize_t k = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) return 0;
        if (k <= 0) return -1;
        c->in_len += (size_t)k;
        if (rl_on_input(L, c)) return -1;
        if (c->fd < 0) return -1;
    }
}

/* Serves sockets until done(L) or the deadline; false on timeout. */
static inline bool rl_loop(rl *L, bool (*done)(rl *), int64_t deadline_ms) {
    while (!done(L)) {
        if (wsc_now_ms() > deadline_ms) return false;
        nfds_t m = 0;
        for (int i = 0; i < L->n; i++) {
            rl_conn *c = &L->c[i];
            if (c->fd < 0) continue;
            L->pmap[m] = i;
            L->pf[m].fd = c->fd;
            L->pf[m].events = (short)(POLLIN | (c->out_len > c->out_off ? POLLOUT : 0));
            L->pf[m].revents = 0;
            m++;
        }
        if (m == 0) return done(L);
        int r = poll(L->pf, m, 100);
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        /* Start at a different socket each round, so no client is always
         * served (and sends its next request) last. */
        L->rot = (L->rot + 1) % m;
        for (nfds_t jj = 0; jj < m; jj++) {
            nfds_t j = (jj + L->rot) % m;
            rl_conn *c = &L->c[L->pmap[j]];
            short ev = L->pf[j].revents;
            if (!ev || c->fd != L->pf[j].fd) continue;
            if ((ev & POLLOUT) && rl_flush_out(c)) {
                rl_dead(L, c);
                continue;
            }
            if ((ev & (POLLIN | POLLHUP | POLLERR)) && rl_read(L, c)) rl_dead(L, c);
        }
    }
    return true;
}

static inline bool rl_all_ready(rl *L) {
    for (int i = 0; i < L->n; i++)
        if (L->c[i].state != RL_READY && L->c[i].state != RL_DEAD) return false;
    return true;
}

static inline bool rl_all_done(rl *L) {
    for (int i = 0; i < L->n; i++)
        if (L->c[i].state != RL_DONE && L->c[i].state != RL_DEAD) return false;
    return true;
}

/* Broadcasts still missing: of pushes acknowledged in this phase, to every
 * live subscriber of the owner. */
static inline uint64_t rl_missing(rl *L) {
    uint64_t miss = 0;
    for (int i = 0; i < L->n; i++) {
        rl_conn *c = &L->c[i];
        if (c->state == RL_DEAD) continue;
        for (int s = c->owner; s < L->n; s += L->owners) {
            if (s == i) continue;
            const rl_conn *src = &L->c[s];
            for (uint32_t q = src->phase_seq0; q < src->seq; q++)
                if (src->acked[q] && !c->got[(size_t)src->mate * L->max_seq + q]) miss++;
        }
    }
    return miss;
}

static inline bool rl_no_missing(rl *L) { return rl_missing(L) == 0; }

/* Connects every client that has no socket; returns how many failed. */
static inline int rl_connect_all(rl *L, int port) {
    int failed = 0;
    for (int i = 0; i < L->n; i++) {
        rl_conn *c = &L->c[i];
        if (c->fd >= 0) continue;
        char id[EVOLU_ID_CHARS + 1], path[64];
        evolu_id_to_string(L->own[c->owner].id, id);
        id[EVOLU_ID_CHARS] = 0;
        snprintf(path, sizeof path, "/?ownerId=%s", id);
        int st;
        c->fd = wsc_connect(port, path, &st);
        c->in_len = c->msg_len = c->out_len = c->out_off = 0;
        if (c->fd < 0) {
            failed++;
            c->state = RL_DEAD;
            continue;
        }
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->state = RL_IDLE;
    }
    L->s.connect_failures += (uint64_t)failed;
    return failed;
}

/* One phase (see the top). pushes per client; returns false on a timeout.
 * Stats of the phase are in L->s (reset at its start). */
static inline bool rl_phase(rl *L, int port, uint32_t pushes, int64_t deadline_ms) {
    free(L->s.lat_us);
    memset(&L->s, 0, sizeof L->s);
    L->killed = false;
    rl_connect_all(L, port);
    for (int i = 0; i < L->n; i++) {
        rl_conn *c = &L->c[i];
        c->phase_seq0 = c->seq;
        c->phase_left = 0;
        c->since_sync = 0;
        if (c->fd >= 0 && rl_start_sync(L, c, EVOLU_SUBSCRIPTION_SUBSCRIBE, RL_SYNC))
            rl_dead(L, c);
    }
    if (!rl_loop(L, rl_all_ready, deadline_ms)) return false;
    int64_t t0 = rl_now_us();
    for (int i = 0; i < L->n; i++) {
        rl_conn *c = &L->c[i];
        if (c->state != RL_READY) continue;
        c->phase_left = pushes;
        if (pushes > 0 && c->seq + pushes > L->max_seq) return false;
        if (rl_next(L, c)) rl_dead(L, c);
    }
    bool ok = rl_loop(L, rl_all_done, deadline_ms);
    L->s.push_us = rl_now_us() - t0;
    if (ok && L->check_broadcasts) ok = rl_loop(L, rl_no_missing, deadline_ms);
    if (L->check_broadcasts) L->s.missing_broadcasts = rl_missing(L);
    return ok;
}

static inline int rl_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of the phase's push latencies, in µs. */
static inline uint64_t rl_percentile(rl *L, double p) {
    if (!L->s.n_lat) return 0;
    qsort(L->s.lat_us, L->s.n_lat, sizeof *L->s.lat_us, rl_cmp_u64);
    size_t i = (size_t)(p / 100.0 * (double)(L->s.n_lat - 1) + 0.5);
    return L->s.lat_us[i < L->s.n_lat ? i : L->s.n_lat - 1];
}

/* Blocking RBSR sync of owner o over a fresh socket into st. 0 = converged. */
static inline int rl_sync_blocking(rl *L, int port, int owner, evolu_store *st) {
    char id[EVOLU_ID_CHARS + 1], path[64];
    evolu_id_to_string(L->own[owner].id, id);
    id[EVOLU_ID_CHARS] = 0;
    snprintf(path, sizeof path, "/?ownerId=%s", id);
    int status, fd = wsc_connect(port, path, &status);
    if (fd < 0) return -1;
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, st, false, NULL, 0);
    evolu_msg_builder b;
    rl_builder(L, &b);
    evolu_writer w = evolu_writer_make(L->buf, RL_BUF);
    int rc = -2;
    if (evolu_rbsr_sync_request(&rb, &b, L->own[owner].id, EVOLU_SUBSCRIPTION_NONE) ||
        evolu_msg_builder_emit(&b, &w) || wsc_send(fd, L->buf, w.len))
        goto out;
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = L->own[owner].id;
    cc.store = st;
    cc.write_key = L->own[owner].write_key;
    cc.scratch = L->scratch;
    cc.scratch_cap = RL_SCRATCH;
    for (int round = 0; round < 1000; round++) {
        uint8_t op, *in;
        size_t n;
        rc = -3;
        if (wsc_recv(fd, 20000, &op, &in, &n)) goto out;
        if (op != WSC_OP_BINARY) {
            free(in);
            goto out;
        }
        evolu_client_outcome oc;
        rl_builder(L, &b);
        w = evolu_writer_make(L->buf, RL_BUF);
        evolu_err e = evolu_client_handle(&cc, in, n, &b, &w, &oc);
        free(in);
        rc = (int)e;
        if (e) goto out;
        rc = 0;
        if (oc.status == EVOLU_CLIENT_CONVERGED) goto out;
        rc = -4;
        if (oc.status == EVOLU_CLIENT_RESPONSE && wsc_send(fd, L->buf, w.len)) goto out;
    }
    rc = -5;
out:
    close(fd);
    return rc;
}

typedef struct rl_verdict {
    uint64_t stored;      /* messages the relay has for the owner */
    uint64_t acked;       /* acknowledged messages */
    uint64_t missing;     /* acknowledged but not stored */
    uint64_t foreign;     /* stored but never sent */
    uint64_t bad_change;  /* does not decrypt to what was pushed */
    uint64_t diverged;    /* live clients whose index differs from the relay's */
    int sync_error;
} rl_verdict;

/* Syncs owner into a fresh index and compares it with what was pushed and
 * acknowledged (adds to v), and with the index of every live client of the
 * owner (same size and fingerprint). */
static inline void rl_verify_owner(rl *L, int port, int owner, rl_verdict *v) {
    const evolu_port *P = evolu_port_sodium();
    evolu_mem_index *mi;
    if (evolu_mem_index_create(P, &mi)) {
        v->sync_error = -1;
        return;
    }
    evolu_store st;
    evolu_mem_index_store(mi, &st);
    int e = rl_sync_blocking(L, port, owner, &st);
    if (e) v->sync_error = e;
    uint64_t size = 0;
    st.size(st.ctx, &size);
    v->stored += size;
    /* Every stored message was sent by a client of this owner, and decrypts. */
    for (uint64_t i = 0; i < size; i++) {
        uint8_t tsb[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp t;
        const uint8_t *ch;
        size_t cl;
        if (evolu_store_timestamp_at(&st, i, tsb) || evolu_timestamp_from_bytes(tsb, &t)) {
            v->foreign++;
            continue;
        }
        long idx = (long)((uint32_t)t.node_id[4] << 24 | (uint32_t)t.node_id[5] << 16 |
                          (uint32_t)t.node_id[6] << 8 | t.node_id[7]);
        uint64_t q = (t.millis - RL_BASE) / (uint64_t)L->k;
        if (t.millis < RL_BASE || t.node_id[0] != 0xEE || idx < 0 || idx >= L->n ||
            L->c[idx].owner != owner || q >= L->c[idx].seq) {
            v->foreign++;
            continue;
        }
        uint8_t plain[2048];
        size_t pl;
        evolu_dbchange_view dv;
        evolu_column col;
        char text[600], want[600];
        evolu_writer tw = evolu_writer_make((uint8_t *)text, sizeof text);
        int wl = rl_title(L, (int)idx, t.millis, want, sizeof want);
        if (st.read_change(st.ctx, tsb, NULL, &ch, &cl) ||
            evolu_dbchange_decrypt(P, L->own[owner].encryption_key, &t, ch, cl, plain,
                                   sizeof plain, &pl) ||
            evolu_dbchange_parse(plain, pl, &dv) || evolu_dbchange_next_column(&dv, &tw, &col) ||
            col.value.len != (size_t)wl || memcmp(col.value.data, want, (size_t)wl))
            v->bad_change++;
    }
    /* Every acknowledged push is there completely. */
    for (int i = owner; i < L->n; i += L->owners) {
        rl_conn *c = &L->c[i];
        for (uint32_t q = 0; q < c->seq; q++) {
            if (!c->acked[q]) continue;
            for (int j = 0; j < L->k; j++) {
                evolu_timestamp t;
                uint8_t b[EVOLU_TIMESTAMP_BYTES], at[EVOLU_TIMESTAMP_BYTES];
                uint64_t k = 0;
                rl_ts(L, c, q, j, &t);
                evolu_timestamp_to_bytes(&t, b);
                v->acked++;
                if (st.find_lower_bound(st.ctx, 0, size, b, &k) || k >= size ||
                    evolu_store_timestamp_at(&st, k, at) || memcmp(at, b, EVOLU_TIMESTAMP_BYTES))
                    v->missing++;
            }
        }
    }
    /* Live clients hold exactly the relay's set. */
    uint8_t fp[EVOLU_FINGERPRINT_BYTES];
    st.fingerprint(st.ctx, 0, size, fp);
    for (int i = owner; i < L->n; i += L->owners) {
        rl_conn *c = &L->c[i];
        if (c->state == RL_DEAD) continue;
        uint64_t cs = 0;
        uint8_t cfp[EVOLU_FINGERPRINT_BYTES];
        if (c->st.size(c->st.ctx, &cs) || cs != size ||
            c->st.fingerprint(c->st.ctx, 0, cs, cfp) || memcmp(cfp, fp, sizeof fp))
            v->diverged++;
    }
    evolu_mem_index_destroy(mi);
}

static inline void rl_verify(rl *L, int port, rl_verdict *v) {
    memset(v, 0, sizeof *v);
    for (int o = 0; o < L->owners; o++) rl_verify_owner(L, port, o, v);
}

#endif
