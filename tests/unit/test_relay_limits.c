/* test_relay_limits.c - the C relay's resource limits over real sockets on
 * 127.0.0.1: a subscriber that never reads is disconnected once its bounded
 * send queue fills while the writer keeps being answered; connections above
 * the limit get 503 at the upgrade; stopping the relay closes every
 * connection with 1000. */
#include "relay_test_util.h"

#include <unistd.h>

static char g_db[256];

static void test_stalled_subscriber(void) {
    evolu_ws_server_options opt;
    t_opts(&opt, g_db);
    opt.queue_max_msgs = 8;
    opt.queue_max_bytes = 1000000;
    tsrv v;
    CHECK(t_start(&v, &opt));
    evolu_owner o;
    t_owner(&o);
    int a = t_connect(&v, o.id), s = t_connect(&v, o.id);
    CHECK(a >= 0 && s >= 0);
    size_t len = t_raw_request(o.id, NULL, EVOLU_SUBSCRIPTION_SUBSCRIBE, 0, 0, 0, 1);
    CHECK(t_code(s, len, o.id) == 0);
    /* S never reads again. A pushes 200 x ~100 KB. */
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        len = t_raw_request(o.id, o.write_key, 0, 100, 1700000000000ull + (uint64_t)i * 1000,
                            1000, 1);
        if (t_code(a, len, o.id) == 0) ok++;
    }
    CHECK(ok == 200);
    /* S's connection ends (1008 close or a reset) rather than growing memory. */
    int64_t deadline = wsc_now_ms() + 10000;
    bool ended = false;
    uint8_t buf[65536];
    while (wsc_now_ms() < deadline) {
        struct pollfd pf = {s, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0) continue;
        ssize_t k = read(s, buf, sizeof buf);
        if (k <= 0) {
            ended = true;
            break;
        }
    }
    CHECK(ended);
    close(s);
    /* The writer still works. */
    len = t_raw_request(o.id, o.write_key, 0, 1, 1700001000000ull, 10, 1);
    CHECK(t_code(a, len, o.id) == 0);
    close(a);
    t_stop(&v);
    CHECK(v.ws.slow_closed == 1);
    CHECK(v.ws.inflight == 0);
    CHECK(v.rs.subscriptions == 0);
}

static void test_max_connections_and_shutdown(void) {
    evolu_ws_server_options opt;
    t_opts(&opt, g_db);
    opt.max_connections = 3;
    tsrv v;
    CHECK(t_start(&v, &opt));
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = t_connect(&v, NULL);
        CHECK(fds[i] >= 0);
    }
    int st;
    CHECK(wsc_connect(v.port, "/", &st) < 0 && st == 503);
    close(fds[2]);
    t_sleep_ms(200);
    fds[2] = t_connect(&v, NULL);
    CHECK(fds[2] >= 0);
    /* Stop: every connection gets close code 1000. */
    evolu_ws_server_stop(v.s);
    for (int i = 0; i < 3; i++) {
        CHECK(wsc_wait_close(fds[i], 5000) == 1000);
        close(fds[i]);
    }
    t_stop(&v);
    CHECK(v.ws.upgrades_rejected == 1);
    CHECK(v.rs.connections == 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_db, sizeof g_db, "/tmp/evolu_test_relay_limits_%d.db", (int)getpid());
    test_stalled_subscriber();
    test_max_connections_and_shutdown();
    char path[300];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", g_db, sfx[i]);
        unlink(path);
    }
    return t_finish("test_relay_limits");
}
