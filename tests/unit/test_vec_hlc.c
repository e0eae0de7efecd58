/* test_vec_hlc.c - every vector of hlc.json (spec 3.3). Where 8.0.0-next.5 and
 * 8.11.0 differ (counter overflow, the drift error's contents) we check the
 * 8.11.0 value, as evolu/hlc.h documents. */
#include <stdio.h>
#include <string.h>

#include "evolu/hlc.h"
#include "vec.h"

/* Edge-case assertions that are not vectors (kept out of the vector counts). */
static int g_bad, g_edges;
#define EXPECT(c) expect((c), __LINE__, #c)
static void expect(bool ok, int line, const char *what) {
    g_edges++;
    if (!ok) {
        printf("FAIL %s:%d: %s\n", __FILE__, line, what);
        g_bad++;
    }
}

static bool json_timestamp(const cJSON *j, evolu_timestamp *t) {
    const char *node = vec_str(j, "nodeId");
    t->millis = (uint64_t)vec_num(j, "millis");
    t->counter = (uint16_t)vec_num(j, "counter");
    return evolu_node_id_from_hex(node, strlen(node), t->node_id) == EVOLU_OK;
}

static bool same(const evolu_timestamp *a, const evolu_timestamp *b) {
    return evolu_timestamp_cmp(a, b) == 0;
}

/* Checks one result against {"ok": ts} or {"err": {...}} (8.11.0 values). */
static bool check_result(const cJSON *result, evolu_err e, const evolu_timestamp *got,
                         const evolu_hlc_drift *drift, int64_t now) {
    const cJSON *ok = vec_v11(result, "ok");
    const cJSON *err = vec_v11(result, "err");
    if (ok && !err) {
        evolu_timestamp want;
        return json_timestamp(ok, &want) && e == EVOLU_OK && same(got, &want);
    }
    if (!err || ok) return false;
    const char *type = vec_str(err, "type");
    if (strcmp(type, "TimestampDriftError") != 0) return false;
    const cJSON *wt = vec_v11(err, "timestamp");
    const cJSON *cause = vec_v11(err, "cause");
    evolu_timestamp want;
    if (!wt || !cause || !cJSON_IsString(cause) || !json_timestamp(wt, &want)) return false;
    evolu_hlc_cause want_cause =
        !strcmp(cause->valuestring, "remote") ? EVOLU_HLC_REMOTE : EVOLU_HLC_LOCAL;
    return e == EVOLU_E_CLOCK_DRIFT && same(&drift->timestamp, &want) &&
           drift->cause == want_cause && (int64_t)vec_num(err, "now") == now;
}

static void send(const cJSON *hlc, uint64_t max_drift) {
    vec_section("hlc.send");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(hlc, "send")) {
        evolu_timestamp clock, out;
        memset(&out, 0, sizeof out);
        evolu_hlc_drift drift;
        memset(&drift, 0, sizeof drift);
        bool ok = json_timestamp(vec_get(v, "timestamp"), &clock);
        int64_t now = (int64_t)vec_num(v, "now");
        evolu_err e = evolu_hlc_send(&clock, now, max_drift, &out, &drift);
        ok = ok && check_result(vec_get(v, "result"), e, &out, &drift, now);
        vec_check(ok, "send {%llu,%u} now %lld: %s -> {%llu,%u}",
                  (unsigned long long)clock.millis, clock.counter, (long long)now,
                  evolu_errname(e), (unsigned long long)out.millis, out.counter);
    }
}

static void receive(const cJSON *hlc, uint64_t max_drift) {
    vec_section("hlc.receive");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(hlc, "receive")) {
        evolu_timestamp local, remote, out;
        memset(&out, 0, sizeof out);
        evolu_hlc_drift drift;
        memset(&drift, 0, sizeof drift);
        bool ok = json_timestamp(vec_get(v, "local"), &local) &&
                  json_timestamp(vec_get(v, "remote"), &remote);
        int64_t now = (int64_t)vec_num(v, "now");
        evolu_err e = evolu_hlc_receive(&local, &remote, now, max_drift, &out, &drift);
        ok = ok && check_result(vec_get(v, "result"), e, &out, &drift, now);
        vec_check(ok, "receive {%llu,%u} {%llu,%u} now %lld: %s -> {%llu,%u}",
                  (unsigned long long)local.millis, local.counter,
                  (unsigned long long)remote.millis, remote.counter, (long long)now,
                  evolu_errname(e), (unsigned long long)out.millis, out.counter);
    }
}

/* Edge cases the vectors do not reach. */
static void edges(void) {
    evolu_timestamp c, out;
    evolu_hlc_drift d;
    memset(&c, 0, sizeof c);

    /* now outside the Millis range */
    EXPECT(evolu_hlc_send(&c, -1, EVOLU_HLC_MAX_DRIFT, &out, NULL) == EVOLU_E_CLOCK_RANGE);
    EXPECT(evolu_hlc_send(&c, (int64_t)EVOLU_MAX_MILLIS + 1, EVOLU_HLC_MAX_DRIFT, &out, NULL) ==
          EVOLU_E_CLOCK_RANGE);
    EXPECT(evolu_hlc_receive(&c, &c, -5, EVOLU_HLC_MAX_DRIFT, &out, NULL) == EVOLU_E_CLOCK_RANGE);

    /* rollover at the largest Millis cannot go on (TS throws) */
    c.millis = EVOLU_MAX_MILLIS;
    c.counter = 65535;
    EXPECT(evolu_hlc_send(&c, (int64_t)EVOLU_MAX_MILLIS, EVOLU_HLC_MAX_DRIFT, &out, NULL) ==
          EVOLU_E_CLOCK_RANGE);
    c.counter = 65534;
    EXPECT(evolu_hlc_send(&c, (int64_t)EVOLU_MAX_MILLIS, EVOLU_HLC_MAX_DRIFT, &out, NULL) ==
              EVOLU_OK &&
          out.millis == EVOLU_MAX_MILLIS && out.counter == 65535);

    /* invalid input millis */
    c.millis = EVOLU_MAX_MILLIS + 1;
    EXPECT(evolu_hlc_send(&c, 0, EVOLU_HLC_MAX_DRIFT, &out, NULL) == EVOLU_E_MILLIS);

    /* rollover that lands beyond the drift limit reports the candidate */
    c.millis = 300000;
    c.counter = 65535;
    memset(&d, 0, sizeof d);
    EXPECT(evolu_hlc_send(&c, 0, EVOLU_HLC_MAX_DRIFT, &out, &d) == EVOLU_E_CLOCK_DRIFT &&
          d.cause == EVOLU_HLC_LOCAL && d.timestamp.millis == 300001 && d.timestamp.counter == 0);

    /* remote exactly at the limit is accepted; receive keeps our nodeId */
    evolu_timestamp local, remote;
    memset(&local, 0, sizeof local);
    memset(&remote, 0, sizeof remote);
    local.node_id[7] = 1;
    remote.node_id[7] = 2;
    remote.millis = 1000 + EVOLU_HLC_MAX_DRIFT;
    remote.counter = 7;
    EXPECT(evolu_hlc_receive(&local, &remote, 1000, EVOLU_HLC_MAX_DRIFT, &out, NULL) == EVOLU_OK &&
          out.millis == remote.millis && out.counter == 8 && out.node_id[7] == 1);

    /* beyond_drift */
    EXPECT(!evolu_hlc_beyond_drift(110, 100, 10));
    EXPECT(evolu_hlc_beyond_drift(111, 100, 10));
    EXPECT(!evolu_hlc_beyond_drift(0, 100, 10));
    EXPECT(evolu_hlc_beyond_drift(10, -1, 10));
    EXPECT(!evolu_hlc_beyond_drift(9, -1, 10));

    /* init: zero clock, random nodeId from the port */
    uint8_t rnd[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vec_fixed_port fp;
    vec_fixed_port_init(&fp, rnd, sizeof rnd, 0);
    evolu_hlc_init(&fp.port, &c);
    EXPECT(c.millis == 0 && c.counter == 0 && !memcmp(c.node_id, rnd, 8));
}

int main(void) {
    cJSON *root = vec_open("hlc.json");
    const cJSON *hlc = vec_get(root, "hlc");
    uint64_t max_drift = (uint64_t)vec_num(hlc, "maxDrift");
    vec_section("hlc.maxDrift");
    vec_check(max_drift == EVOLU_HLC_MAX_DRIFT, "maxDrift %llu", (unsigned long long)max_drift);
    send(hlc, max_drift);
    receive(hlc, max_drift);
    edges();
    printf("hlc edge cases: %d checked, %d failed\n", g_edges, g_bad);
    cJSON_Delete(root);
    int rc = vec_finish();
    return rc ? rc : (g_bad ? 1 : 0);
}
