/* test_relay_crash.c - an acknowledged write survives kill -9 of the relay.
 *
 * Without arguments (the CTest test): forks a relay process (the library's
 * server, synchronous=FULL as in production), pushes from 4 owners on 4
 * sockets, kills the relay with SIGKILL in the middle of the load, starts a
 * new relay process on the same database and checks by syncing that every
 * push answered with errorCode 0 is there, and the database is intact.
 *
 * The same load and check drive the real `evolu relay` program in
 * tests/scripts/test_relay_crash.sh:
 *   test_relay_crash --load PORT ACKFILE MILLISECONDS   (push until the time
 *       is up or the relay is gone; one line per acknowledged push)
 *   test_relay_crash --verify PORT ACKFILE              (exit 0 iff all there) */
#include "relay_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#define OWNERS 4
#define PER_PUSH 20
#define BASE_MILLIS 1700000000000ull

static void owner_n(int i, evolu_owner *o) {
    uint8_t secret[32];
    memset(secret, 0x40 + i, sizeof secret);
    evolu_owner_from_secret(evolu_port_sodium(), secret, sizeof secret, o);
}

/* Pushes until deadline or failure; appends "owner seq" per ack to f. */
static long load(int port, FILE *f, int ms) {
    tsrv v = {0};
    v.port = port;
    evolu_owner o[OWNERS];
    int fd[OWNERS];
    for (int i = 0; i < OWNERS; i++) {
        owner_n(i, &o[i]);
        fd[i] = t_connect(&v, o[i].id);
        if (fd[i] < 0) return -1;
    }
    long acks = 0;
    int64_t deadline = wsc_now_ms() + ms;
    for (uint64_t seq = 0; wsc_now_ms() < deadline; seq++) {
        int i = (int)(seq % OWNERS);
        size_t len = t_raw_request(o[i].id, o[i].write_key, 0, PER_PUSH,
                                   BASE_MILLIS + seq * PER_PUSH, 200, (uint8_t)i);
        if (t_code(fd[i], len, o[i].id) != 0) break; /* the relay is gone */
        fprintf(f, "%d %llu\n", i, (unsigned long long)seq);
        fflush(f);
        acks++;
    }
    for (int i = 0; i < OWNERS; i++) close(fd[i]);
    return acks;
}

/* Syncs every owner and checks each acknowledged push's messages. */
static long verify(int port, FILE *f, long *missing) {
    tsrv v = {0};
    v.port = port;
    evolu_mem_index *mi[OWNERS];
    evolu_store st[OWNERS];
    evolu_owner o[OWNERS];
    *missing = 0;
    for (int i = 0; i < OWNERS; i++) {
        owner_n(i, &o[i]);
        evolu_mem_index_create(evolu_port_sodium(), &mi[i]);
        evolu_mem_index_store(mi[i], &st[i]);
        int fd = t_connect(&v, o[i].id);
        int e = fd < 0 ? -1 : t_sync(fd, &o[i], &st[i], 0);
        if (fd >= 0) close(fd);
        if (e) {
            fprintf(stderr, "sync of owner %d failed: %d\n", i, e);
            *missing = -1;
        }
    }
    long checked = 0;
    int i;
    unsigned long long seq;
    while (*missing >= 0 && fscanf(f, "%d %llu", &i, &seq) == 2) {
        if (i < 0 || i >= OWNERS) continue;
        for (int j = 0; j < PER_PUSH; j++) {
            evolu_timestamp t;
            memset(&t, 0, sizeof t);
            t.millis = BASE_MILLIS + seq * PER_PUSH + (uint64_t)j;
            t.node_id[7] = (uint8_t)i;
            uint8_t b[EVOLU_TIMESTAMP_BYTES], at[EVOLU_TIMESTAMP_BYTES];
            evolu_timestamp_to_bytes(&t, b);
            uint64_t size = 0, k = 0;
            st[i].size(st[i].ctx, &size);
            st[i].find_lower_bound(st[i].ctx, 0, size, b, &k);
            if (k >= size || evolu_store_timestamp_at(&st[i], k, at) || memcmp(at, b, 16))
                (*missing)++;
        }
        checked++;
    }
    for (int n = 0; n < OWNERS; n++) evolu_mem_index_destroy(mi[n]);
    return checked;
}

static evolu_ws_server *g_child_server;
static void child_on_term(int sig) {
    (void)sig;
    if (g_child_server) evolu_ws_server_stop(g_child_server);
}

/* A relay process on db; its port comes back through a pipe. SIGTERM stops
 * it cleanly. */
static pid_t spawn_relay(const char *db, int *port) {
    int p[2];
    if (pipe(p)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        evolu_ws_server_options o;
        t_opts(&o, db);
        o.relay.synchronous_full = true;
        evolu_ws_server *s;
        if (evolu_ws_server_create(&o, &s)) _exit(3);
        g_child_server = s;
        signal(SIGTERM, child_on_term);
        int pt = evolu_ws_server_port(s);
        if (write(p[1], &pt, sizeof pt) != sizeof pt) _exit(4);
        close(p[1]);
        evolu_ws_server_run(s);
        evolu_ws_server_destroy(s);
        _exit(0);
    }
    close(p[1]);
    *port = -1;
    if (pid > 0 && read(p[0], port, sizeof *port) != sizeof *port) *port = -1;
    close(p[0]);
    return pid;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 5 && !strcmp(argv[1], "--load")) {
        FILE *f = fopen(argv[3], "a");
        if (!f) return 2;
        long n = load(atoi(argv[2]), f, atoi(argv[4]));
        fclose(f);
        printf("acknowledged pushes: %ld\n", n);
        return n < 0 ? 1 : 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--verify")) {
        FILE *f = fopen(argv[3], "r");
        if (!f) return 2;
        long missing;
        long n = verify(atoi(argv[2]), f, &missing);
        fclose(f);
        printf("acknowledged pushes checked: %ld, messages missing: %ld\n", n, missing);
        return n > 0 && missing == 0 ? 0 : 1;
    }

    char db[256], acks[300];
    snprintf(db, sizeof db, "/tmp/evolu_test_relay_crash_%d.db", (int)getpid());
    snprintf(acks, sizeof acks, "%s.acks", db);
    int port;
    pid_t pid = spawn_relay(db, &port);
    CHECK(pid > 0 && port > 0);
    /* The killer: a second child that SIGKILLs the relay after 400 ms, while
     * the load (this process) is pushing. */
    pid_t killer = fork();
    if (killer == 0) {
        t_sleep_ms(400);
        kill(pid, SIGKILL);
        _exit(0);
    }
    FILE *f = fopen(acks, "w");
    long n = load(port, f, 5000);
    fclose(f);
    int status;
    waitpid(killer, &status, 0);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
          WTERMSIG(status) == SIGKILL);
    CHECK(n > 0);
    pid = spawn_relay(db, &port);
    CHECK(pid > 0 && port > 0);
    f = fopen(acks, "r");
    long missing;
    long checked = verify(port, f, &missing);
    fclose(f);
    printf("acknowledged pushes: %ld, checked after restart: %ld, messages missing: %ld\n", n,
           checked, missing);
    CHECK(checked == n && missing == 0);
    kill(pid, SIGTERM);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The index is consistent after the crash. */
    evolu_sqlite_index *idx;
    CHECK(evolu_sqlite_index_open_path(evolu_port_sodium(), db, &idx) == EVOLU_OK);
    for (int i = 0; i < OWNERS; i++) {
        evolu_owner o;
        owner_n(i, &o);
        CHECK(evolu_sqlite_index_verify(idx, o.id) == EVOLU_OK);
    }
    evolu_sqlite_index_close(idx);
    char path[300];
    const char *sfx[] = {"", "-wal", "-shm", ".acks"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s", db, sfx[i]);
        unlink(path);
    }
    return t_finish("test_relay_crash");
}
