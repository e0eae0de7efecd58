/* bench_relay.c - the push-and-sync load of the relay load test
 * (tests/unit/relay_load.h) against any relay on 127.0.0.1, to compare the
 * C relay with the published TypeScript one (bench/relay-compare.sh runs
 * both with the same settings).
 *
 * N clients over M owners on one poll() loop: all subscribe (RBSR sync),
 * then each pushes P times K encrypted changes built with the core (closed
 * loop: the next push when the Response came), with an RBSR sync every S
 * pushes and a last one at the end; the phase ends when every subscriber has
 * every Broadcast. Throughput = acknowledged messages / time from the first
 * push to the last acknowledgement; latency = push sent -> its Response.
 * Finally every owner is synced into a fresh index and compared with what
 * was acknowledged (a relay that loses messages is reported, not timed).
 *
 * usage: bench_relay --port PORT [--pid RELAY_PID] [--label NAME]
 *                    [--clients N] [--owners M] [--k K] [--pushes P]
 *                    [--sync-every S] [--pad BYTES] [--timeout SECONDS]
 * Prints one line:
 *   RESULT label=NAME clients=N owners=M msgs=.. secs=.. msgs_per_s=..
 *     pushes_per_s=.. p50_ms=.. p99_ms=.. relay_cpu_s=.. msgs_per_relay_cpu_s=..
 *     relay_vmhwm_kb=.. load_cpu_s=.. lost=.. missing_broadcasts=..
 *     resent_broadcasts=.. errors=..
 * relay_vmhwm_kb is the relay's peak RSS (VmHWM of --pid) read at the end;
 * relay_cpu_s its CPU seconds (user + system) during the load, so
 * msgs_per_relay_cpu_s is the throughput a relay would reach on a core of
 * its own (wall-clock numbers depend on what else the machine runs).
 * resent_broadcasts: Broadcasts of messages a client sent in a sync because
 * the relay's reply showed it lacking them (not an error; the C relay never
 * causes them, see the load test).
 * Every message stays far below 1,000,000 bytes (the TypeScript relay exits
 * on a larger frame). Built only with -DEVOLU_BENCH=ON. */
#include "../tests/unit/relay_load.h"

static int arg_int(int argc, char **argv, const char *name, int def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return atoi(argv[i + 1]);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    rl_raise_nofile();
    int port = arg_int(argc, argv, "--port", 0);
    pid_t pid = (pid_t)arg_int(argc, argv, "--pid", 0);
    const char *label = arg_str(argc, argv, "--label", "relay");
    int clients = arg_int(argc, argv, "--clients", 500);
    int owners = arg_int(argc, argv, "--owners", 100);
    int k = arg_int(argc, argv, "--k", 8);
    int pushes = arg_int(argc, argv, "--pushes", 10);
    int sync_every = arg_int(argc, argv, "--sync-every", 4);
    int pad = arg_int(argc, argv, "--pad", 0);
    int timeout = arg_int(argc, argv, "--timeout", 240);
    if (port <= 0 || clients < owners || owners < 1 || k < 1 || k > RL_MAX_K || pushes < 1 ||
        pad < 0 || pad > 400) {
        fprintf(stderr,
                "usage: bench_relay --port PORT [--pid RELAY_PID] [--label NAME] [--clients N]\n"
                "         [--owners M] [--k K<=%d] [--pushes P] [--sync-every S] [--pad 0..400]\n"
                "         [--timeout SECONDS]\n",
                RL_MAX_K);
        return 2;
    }
    static rl L;
    if (!rl_init(&L, clients, owners, k, (uint32_t)pushes + 1, sync_every)) {
        fprintf(stderr, "bench_relay: out of memory\n");
        return 1;
    }
    L.change_pad = (size_t)pad;
    L.check_broadcasts = true;
    double rc0 = pid ? rl_cpu_secs(pid) : 0, lc0 = rl_cpu_secs(0);
    bool ok = rl_phase(&L, port, (uint32_t)pushes, wsc_now_ms() + (int64_t)timeout * 1000);
    double relay_cpu = pid ? rl_cpu_secs(pid) - rc0 : -1, load_cpu = rl_cpu_secs(0) - lc0;
    double secs = (double)L.s.push_us / 1e6;
    uint64_t p50 = rl_percentile(&L, 50), p99 = rl_percentile(&L, 99);
    rl_stats s = L.s;
    rl_verdict v;
    rl_verify(&L, port, &v);
    uint64_t errors = s.push_errors + s.sync_errors + s.protocol_errors + s.unexpected +
                      s.bad_broadcasts + s.died + s.connect_failures + (ok ? 0 : 1) +
                      (v.sync_error ? 1 : 0) + v.foreign + v.bad_change + v.diverged;
    printf("RESULT label=%s clients=%d owners=%d k=%d pushes=%d msgs=%llu secs=%.3f "
           "msgs_per_s=%.0f pushes_per_s=%.0f p50_ms=%.2f p99_ms=%.2f relay_cpu_s=%.2f "
           "msgs_per_relay_cpu_s=%.0f relay_vmhwm_kb=%ld load_cpu_s=%.2f lost=%llu missing_broadcasts=%llu resent_broadcasts=%llu errors=%llu\n",
           label, clients, owners, k, pushes, (unsigned long long)s.msgs_acked, secs,
           secs > 0 ? (double)s.msgs_acked / secs : 0.0,
           secs > 0 ? (double)s.pushes_acked / secs : 0.0, (double)p50 / 1000.0,
           (double)p99 / 1000.0, relay_cpu,
           relay_cpu > 0 ? (double)s.msgs_acked / relay_cpu : 0.0, pid ? rl_vmhwm_kb(pid) : -1L,
           load_cpu,
           (unsigned long long)v.missing, (unsigned long long)s.missing_broadcasts,
           (unsigned long long)(s.resent_broadcasts + s.dup_broadcasts),
           (unsigned long long)errors);
    if (errors || v.missing)
        fprintf(stderr,
                "bench_relay: push_errors=%llu sync_errors=%llu protocol_errors=%llu "
                "unexpected=%llu bad_broadcasts=%llu dup_broadcasts=%llu died=%llu connect_failures=%llu "
                "timeout=%d verify_sync=%d foreign=%llu bad_change=%llu diverged=%llu\n",
                (unsigned long long)s.push_errors, (unsigned long long)s.sync_errors,
                (unsigned long long)s.protocol_errors, (unsigned long long)s.unexpected,
                (unsigned long long)s.bad_broadcasts, (unsigned long long)s.dup_broadcasts,
                (unsigned long long)s.died,
                (unsigned long long)s.connect_failures, !ok, v.sync_error,
                (unsigned long long)v.foreign, (unsigned long long)v.bad_change,
                (unsigned long long)v.diverged);
    rl_free(&L);
    return errors || v.missing ? 1 : 0;
}
