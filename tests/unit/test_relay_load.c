/* test_relay_load.c - the relay under load and through a crash (issue 5,
 * item 6), on 127.0.0.1, bounded in time.
 *
 * One relay process (the library's server forked off, synchronous=FULL as
 * in production, bounded by alarm()) and, in this process, 500 WebSocket
 * clients over 100 owners on one poll() loop (tests/unit/relay_load.h):
 *
 *  1. load: every client subscribes (RBSR sync), pushes encrypted changes
 *     built with the core and syncs every few pushes; every push is
 *     acknowledged with errorCode 0, every subscriber receives the Broadcast
 *     of every push of the other clients of its owner exactly once, and a
 *     fresh sync per owner finds exactly the acknowledged messages, each
 *     decrypting to what was pushed, and every client's index equal to it;
 *  2. crash: the same load, and the relay is killed with SIGKILL when half of
 *     the pushes are acknowledged;
 *  3. restart on the same database: the clients reconnect, sync and push
 *     again (Broadcasts complete again); every message acknowledged in any
 *     phase is there, nothing that was never sent is, and every client has
 *     converged to the relay's set (size and fingerprint).
 *
 * Under AddressSanitizer the pushes per client are fewer (never the clients
 * or owners). Prints throughput and p50/p99 push latency. */
#include "relay_load.h"
#include "relay_test_util.h"

#include <sys/wait.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RL_ASAN 1
#endif

#define CLIENTS 500
#define OWNERS 100
#define K 8
#define SYNC_EVERY 4
#ifdef RL_ASAN
#define P_LOAD 4
#define P_CRASH 4
#define P_AFTER 2
#else
#define P_LOAD 10
#define P_CRASH 10
#define P_AFTER 4
#endif
#define PHASE_MS 40000

static void quiet_log(void *ctx, evolu_log_level level, const char *line) {
    (void)ctx;
    if (level <= EVOLU_LOG_WARN || getenv("EVOLU_TEST_VERBOSE"))
        fprintf(stderr, "[relay %s] %s\n", evolu_log_level_name(level), line);
}

static evolu_ws_server *g_child_server;
static void child_on_term(int sig) {
    (void)sig;
    if (g_child_server) evolu_ws_server_stop(g_child_server);
}

/* A relay process on db (its port comes back through a pipe); SIGTERM stops
 * it cleanly, and it ends by itself after 100 s whatever happens. */
static pid_t spawn_relay(const char *db, int *port) {
    int p[2];
    *port = -1;
    if (pipe(p)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        alarm(100);
        evolu_ws_server_options o;
        t_opts(&o, db);
        o.relay.synchronous_full = true;
        o.relay.log = quiet_log;
        o.relay.log_level = EVOLU_LOG_WARN;
        evolu_ws_server *s;
        if (evolu_ws_server_create(&o, &s)) _exit(3);
        g_child_server = s;
        signal(SIGTERM, child_on_term);
        int pt = evolu_ws_server_port(s);
        if (write(p[1], &pt, sizeof pt) != sizeof pt) _exit(4);
        close(p[1]);
        evolu_ws_server_run(s);
        char line[1024];
        evolu_ws_server_stats_line(s, line, sizeof line);
        fprintf(stderr, "relay stats: %s\n", line);
        evolu_ws_server_destroy(s);
        _exit(0);
    }
    close(p[1]);
    if (pid > 0 && read(p[0], port, sizeof *port) != sizeof *port) *port = -1;
    close(p[0]);
    return pid;
}

static void report(const char *name, rl *L, double relay_cpu, double load_cpu) {
    double secs = (double)L->s.push_us / 1e6;
    printf("%s: CPU seconds of the phase: relay %.2f, clients %.2f\n", name, relay_cpu, load_cpu);
    printf("%s: %llu pushes (%llu messages) acknowledged in %.2f s: %.0f messages/s, "
           "%.0f pushes/s, push latency p50 %.2f ms p99 %.2f ms; %llu syncs, %llu broadcasts\n",
           name, (unsigned long long)L->s.pushes_acked, (unsigned long long)L->s.msgs_acked,
           secs, secs > 0 ? (double)L->s.msgs_acked / secs : 0.0,
           secs > 0 ? (double)L->s.pushes_acked / secs : 0.0,
           (double)rl_percentile(L, 50) / 1000.0, (double)rl_percentile(L, 99) / 1000.0,
           (unsigned long long)L->s.syncs, (unsigned long long)L->s.broadcasts);
}

/* The checks of a phase that ran to the end without a crash. */
static void check_full_phase(rl *L, uint32_t pushes) {
    uint64_t want = (uint64_t)CLIENTS * pushes;
    CHECK(L->s.pushes_acked == want);
    CHECK(L->s.push_errors == 0);
    CHECK(L->s.died == 0 && L->s.connect_failures == 0);
    CHECK(L->s.sync_errors == 0 && L->s.protocol_errors == 0 && L->s.unexpected == 0);
    CHECK(L->s.bad_broadcasts == 0 && L->s.dup_broadcasts == 0);
    /* Syncs never find the C relay lacking a message (its replies and
     * Broadcasts leave in the order of its writes), so no client re-sends. */
    CHECK(L->s.resent_broadcasts == 0);
    CHECK(L->s.missing_broadcasts == 0);
    /* Each push reaches the other CLIENTS/OWNERS - 1 clients of its owner, once. */
    CHECK(L->s.broadcasts == want * (uint64_t)(CLIENTS / OWNERS - 1));
    if (L->s.broadcasts != want * (uint64_t)(CLIENTS / OWNERS - 1))
        fprintf(stderr, "broadcasts %llu, expected %llu\n", (unsigned long long)L->s.broadcasts,
                (unsigned long long)(want * (uint64_t)(CLIENTS / OWNERS - 1)));
}

static void print_verdict(const char *when, const rl_verdict *v) {
    printf("%s: relay holds %llu messages, %llu acknowledged, %llu missing, %llu never sent, "
           "%llu not decrypting as pushed, %llu clients diverged, sync error %d\n",
           when, (unsigned long long)v->stored, (unsigned long long)v->acked,
           (unsigned long long)v->missing, (unsigned long long)v->foreign,
           (unsigned long long)v->bad_change, (unsigned long long)v->diverged, v->sync_error);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    rl_raise_nofile();
    char db[256];
    snprintf(db, sizeof db, "/tmp/evolu_test_relay_load_%d.db", (int)getpid());
    int port;
    pid_t pid = spawn_relay(db, &port);
    CHECK(pid > 0 && port > 0);
    if (pid <= 0 || port <= 0) return t_finish("test_relay_load");

    static rl L;
    CHECK(rl_init(&L, CLIENTS, OWNERS, K, P_LOAD + P_CRASH + P_AFTER + 1, SYNC_EVERY));

    /* 1. load */
    L.check_broadcasts = true;
    double rc0 = rl_cpu_secs(pid), lc0 = rl_cpu_secs(0);
    CHECK(rl_phase(&L, port, P_LOAD, wsc_now_ms() + PHASE_MS));
    report("load", &L, rl_cpu_secs(pid) - rc0, rl_cpu_secs(0) - lc0);
    check_full_phase(&L, P_LOAD);
    rl_verdict v;
    rl_verify(&L, port, &v);
    print_verdict("after load", &v);
    CHECK(v.sync_error == 0);
    CHECK(v.acked == (uint64_t)CLIENTS * P_LOAD * K);
    CHECK(v.stored == v.acked && v.missing == 0 && v.foreign == 0);
    CHECK(v.bad_change == 0 && v.diverged == 0);

    /* 2. kill -9 half way through the next load */
    L.check_broadcasts = false;
    L.kill_pid = pid;
    L.kill_at = (uint64_t)CLIENTS * P_CRASH / 2;
    CHECK(rl_phase(&L, port, P_CRASH, wsc_now_ms() + PHASE_MS));
    uint64_t acked_in_crash = L.s.pushes_acked;
    printf("crash: relay killed after %llu acknowledged pushes; %llu acknowledged in all, "
           "%llu connections dropped\n",
           (unsigned long long)L.kill_at, (unsigned long long)acked_in_crash,
           (unsigned long long)L.s.died);
    CHECK(L.killed);
    CHECK(acked_in_crash >= L.kill_at && acked_in_crash < (uint64_t)CLIENTS * P_CRASH);
    CHECK(L.s.died == CLIENTS);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    L.kill_pid = 0;

    /* 3. restart on the same database; reconnect, sync, push, converge */
    pid = spawn_relay(db, &port);
    CHECK(pid > 0 && port > 0);
    if (pid > 0 && port > 0) {
        L.check_broadcasts = true;
        rc0 = rl_cpu_secs(pid), lc0 = rl_cpu_secs(0);
        CHECK(rl_phase(&L, port, P_AFTER, wsc_now_ms() + PHASE_MS));
        report("after restart", &L, rl_cpu_secs(pid) - rc0, rl_cpu_secs(0) - lc0);
        check_full_phase(&L, P_AFTER);
        rl_verify(&L, port, &v);
        print_verdict("after restart", &v);
        uint64_t sent = 0;
        for (int i = 0; i < CLIENTS; i++) sent += L.c[i].sent;
        CHECK(v.sync_error == 0);
        CHECK(v.acked == (uint64_t)K * ((uint64_t)CLIENTS * (P_LOAD + P_AFTER) + acked_in_crash));
        CHECK(v.missing == 0 && v.foreign == 0 && v.bad_change == 0 && v.diverged == 0);
        CHECK(v.stored >= v.acked && v.stored <= sent * K);
        kill(pid, SIGTERM);
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0);
    }
    rl_free(&L);

    /* The index is consistent after the crash. */
    evolu_sqlite_index *idx;
    CHECK(evolu_sqlite_index_open_path(evolu_port_sodium(), db, &idx) == EVOLU_OK);
    for (int i = 0; i < OWNERS; i++) {
        evolu_owner o;
        rl_owner(i, &o);
        CHECK(evolu_sqlite_index_verify(idx, o.id) == EVOLU_OK);
    }
    evolu_sqlite_index_close(idx);
    char path[300];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", db, sfx[i]);
        unlink(path);
    }
    return t_finish("test_relay_load");
}
