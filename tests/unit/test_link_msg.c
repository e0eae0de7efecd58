/* test_link_msg.c - what link frames carry (include/evolu/link.h): protocol
 * messages in BEGIN/CHUNK/END pieces and the host-store request and reply
 * codec. Exact bytes of each layout (as docs/link.md gives them), round trips
 * of every op, misuse of the sender, and every kind of bad input to the
 * receivers: out-of-order pieces, too many or too few bytes, a wrong CRC,
 * truncations, trailing bytes, unknown ops and statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/link.h"

static int g_checked, g_failed;
#define EXPECT(c) expect((c), __LINE__, #c)
static bool expect(bool ok, int line, const char *what) {
    g_checked++;
    if (!ok) {
        printf("FAIL %s:%d: %s\n", __FILE__, line, what);
        g_failed++;
    }
    return ok;
}

static size_t unhex(const char *h, uint8_t *out) {
    size_t n = 0;
    for (; h[0]; h++) {
        if (h[0] == ' ') continue;
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) abort();
        out[n++] = (uint8_t)v;
        h++;
    }
    return n;
}

static bool bytes_are(const uint8_t *p, size_t n, const char *hex) {
    uint8_t want[256];
    size_t m = unhex(hex, want);
    return m == n && memcmp(p, want, n) == 0;
}

static void messages(void) {
    evolu_link_msg_tx t;
    uint8_t p[EVOLU_LINK_MTU];
    const uint8_t data[] = "123456789";
    /* exact bytes: begin(9), chunk "1234", chunk "56789", end(crc32c) */
    EXPECT(evolu_link_msg_begin(&t, 9, p, sizeof p) == 5 && bytes_are(p, 5, "01 09000000"));
    EXPECT(evolu_link_msg_end(&t, p, sizeof p) == 0); /* before all bytes */
    EXPECT(evolu_link_msg_chunk(&t, data, 4, p, sizeof p) == 5 &&
           bytes_are(p, 5, "02 31323334"));
    EXPECT(evolu_link_msg_chunk(&t, data + 4, 6, p, sizeof p) == 0); /* beyond total */
    EXPECT(evolu_link_msg_chunk(&t, data + 4, 0, p, sizeof p) == 0); /* empty */
    EXPECT(evolu_link_msg_chunk(&t, data + 4, 5, p, 5) == 0);        /* small cap */
    EXPECT(evolu_link_msg_chunk(&t, data + 4, 5, p, sizeof p) == 6);
    EXPECT(evolu_link_msg_end(&t, p, 4) == 0);
    EXPECT(evolu_link_msg_end(&t, p, sizeof p) == 5 && bytes_are(p, 5, "03 839206e3"));
    EXPECT(evolu_link_msg_chunk(&t, data, 1, p, sizeof p) == 0); /* closed */
    EXPECT(evolu_link_msg_abort(&t, p, sizeof p) == 1 && p[0] == EVOLU_LINK_MSG_ABORT);
    EXPECT(evolu_link_msg_begin(&t, 1, p, 4) == 0);
    static uint8_t big[EVOLU_LINK_MSG_CHUNK_MAX + 1];
    EXPECT(evolu_link_msg_begin(&t, sizeof big, p, sizeof p) == 5);
    EXPECT(evolu_link_msg_chunk(&t, big, sizeof big, p, sizeof p) == 0);
    EXPECT(evolu_link_msg_chunk(&t, big, sizeof big - 1, p, sizeof p) == EVOLU_LINK_MTU);

    /* receiving: a whole message, then each misuse */
    evolu_link_msg_rx r;
    evolu_link_msg_part part;
    evolu_link_msg_rx_init(&r, 100);
    uint8_t b[16];
    size_t n = unhex("01 09000000", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK &&
           part.kind == EVOLU_LINK_MSG_STARTED && part.total == 9);
    n = unhex("02 31323334", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK && part.kind == EVOLU_LINK_MSG_DATA &&
           part.offset == 0 && part.n == 4 && memcmp(part.data, "1234", 4) == 0);
    n = unhex("02 3536373839", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK && part.offset == 4 && part.n == 5);
    n = unhex("03 839206e3", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK &&
           part.kind == EVOLU_LINK_MSG_COMPLETE && part.total == 9);

    struct {
        const char *pieces[4];
        evolu_err err; /* of the last piece */
    } bad[] = {
        {{"02 31"}, EVOLU_E_STATE},                                 /* chunk first */
        {{"03 00000000"}, EVOLU_E_STATE},                           /* end first */
        {{"01 02000000", "01 02000000"}, EVOLU_E_STATE},            /* begin twice */
        {{"01 65000000"}, EVOLU_E_LIMIT},                           /* 101 > max 100 */
        {{"01 020000"}, EVOLU_E_TRUNCATED},                         /* short begin */
        {{"01 0200000000"}, EVOLU_E_TRAILING},                      /* long begin */
        {{"01 02000000", "02 313233"}, EVOLU_E_LIMIT},              /* 3 > total 2 */
        {{"01 02000000", "02"}, EVOLU_E_TRUNCATED},                 /* empty chunk */
        {{"01 02000000", "02 31", "03 00000000"}, EVOLU_E_TRUNCATED}, /* end early */
        {{"01 01000000", "02 31", "03 00000000"}, EVOLU_E_CHECKSUM},  /* wrong crc */
        {{"01 01000000", "02 31", "03 000000"}, EVOLU_E_TRUNCATED},   /* short end */
        {{"01 01000000", "02 31", "03 0000000000"}, EVOLU_E_TRAILING}, /* long end */
        {{"04 00"}, EVOLU_E_TRAILING},                              /* long abort */
        {{"05"}, EVOLU_E_INVALID},                                  /* unknown */
        {{""}, EVOLU_E_TRUNCATED},                                  /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evolu_link_msg_rx_init(&r, 100);
        evolu_err e = EVOLU_OK;
        for (int k = 0; k < 4 && bad[i].pieces[k]; k++) {
            n = unhex(bad[i].pieces[k], b);
            e = evolu_link_msg_feed(&r, b, n, &part);
        }
        if (!EXPECT(e == bad[i].err)) printf("  case %lu: %s\n", (unsigned long)i, evolu_errname(e));
        /* the receiver recovers: a fresh message goes through */
        n = unhex("01 00000000", b);
        EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK);
        n = unhex("03 00000000", b);
        EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK &&
               part.kind == EVOLU_LINK_MSG_COMPLETE);
    }
    /* abort in the middle drops the message */
    evolu_link_msg_rx_init(&r, 100);
    n = unhex("01 05000000", b);
    evolu_link_msg_feed(&r, b, n, &part);
    n = unhex("04", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_OK &&
           part.kind == EVOLU_LINK_MSG_ABORTED);
    n = unhex("02 31", b);
    EXPECT(evolu_link_msg_feed(&r, b, n, &part) == EVOLU_E_STATE);
}

static bool same_msg(const evolu_link_store_msg *a, const evolu_link_store_msg *b) {
    return a->op == b->op && a->status == b->status && a->id == b->id &&
           a->key_len == b->key_len && (!a->key_len || memcmp(a->key, b->key, a->key_len) == 0) &&
           a->offset == b->offset && a->size == b->size && a->data_len == b->data_len &&
           (!a->data_len || memcmp(a->data, b->data, a->data_len) == 0);
}

static void store_codec(void) {
    const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint8_t data[3] = {0xAA, 0xBB, 0xCC};
    struct {
        evolu_link_store_msg m;
        const char *hex;
    } cases[] = {
        {{EVOLU_LINK_ST_INDEX_READ, 0, 0x0102, 0, NULL, 0x10, 0x200, NULL, 0},
         "01 0201 10000000 0002"},
        {{EVOLU_LINK_ST_INDEX_BEGIN, 0, 7, 0, NULL, 0, 0, NULL, 0}, "02 0700"},
        {{EVOLU_LINK_ST_INDEX_APPEND, 0, 8, 0, NULL, 0, 0, data, 3}, "03 0800 aabbcc"},
        {{EVOLU_LINK_ST_INDEX_APPEND, 0, 8, 0, NULL, 0, 0, NULL, 0}, "03 0800"},
        {{EVOLU_LINK_ST_INDEX_COMMIT, 0, 9, 0, NULL, 0, 0, NULL, 0}, "04 0900"},
        {{EVOLU_LINK_ST_INDEX_ABORT, 0, 0xFFFF, 0, NULL, 0, 0, NULL, 0}, "07 ffff"},
        {{0x87, EVOLU_LINK_ST_SEQUENCE, 0xFFFF, 0, NULL, 0, 0, NULL, 0}, "87 ffff 05"},
        {{EVOLU_LINK_ST_BLOB_PUT, 0, 10, 16, key, 4, 7, data, 3},
         "05 0a00 10 000102030405060708090a0b0c0d0e0f 04000000 07000000 aabbcc"},
        {{EVOLU_LINK_ST_BLOB_GET, 0, 11, 16, key, 0, 0xFFFF, NULL, 0},
         "06 0b00 10 000102030405060708090a0b0c0d0e0f 00000000 ffff"},
        {{0x81, EVOLU_LINK_ST_OK, 0x0102, 0, NULL, 0, 0x12345678, data, 3},
         "81 0201 00 78563412 aabbcc"},
        {{0x81, EVOLU_LINK_ST_NOT_FOUND, 1, 0, NULL, 0, 0, NULL, 0}, "81 0100 01 00000000"},
        {{0x82, EVOLU_LINK_ST_IO, 1, 0, NULL, 0, 0, NULL, 0}, "82 0100 03"},
        {{0x83, EVOLU_LINK_ST_NO_SPACE, 2, 0, NULL, 0, 0, NULL, 0}, "83 0200 06"},
        {{0x84, EVOLU_LINK_ST_SEQUENCE, 3, 0, NULL, 0, 0, NULL, 0}, "84 0300 05"},
        {{0x85, EVOLU_LINK_ST_RANGE, 4, 0, NULL, 0, 0, NULL, 0}, "85 0400 02"},
        {{0x86, EVOLU_LINK_ST_OK, 5, 0, NULL, 0, 3, data, 3}, "86 0500 00 03000000 aabbcc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[128];
        size_t n;
        evolu_link_store_msg back;
        EXPECT(evolu_link_store_encode(&cases[i].m, out, sizeof out, &n) == EVOLU_OK);
        if (!EXPECT(bytes_are(out, n, cases[i].hex))) printf("  case %lu\n", (unsigned long)i);
        EXPECT(evolu_link_store_decode(out, n, &back) == EVOLU_OK && same_msg(&back, &cases[i].m));
        /* every truncation of a fixed part fails; a shorter data part is just shorter */
        for (size_t k = 0; k < n; k++) {
            evolu_err e = evolu_link_store_decode(out, k, &back);
            bool has_data = cases[i].m.data_len > 0 || cases[i].m.op == EVOLU_LINK_ST_INDEX_APPEND;
            size_t fixed = n - cases[i].m.data_len;
            if (k < fixed) EXPECT(e == EVOLU_E_TRUNCATED);
            else EXPECT(has_data && e == EVOLU_OK && back.data_len == k - fixed);
        }
        /* a cap one short is a buffer error, nothing claimed written */
        EXPECT(evolu_link_store_encode(&cases[i].m, out, n - 1, &n) == EVOLU_E_BUFFER && n == 0);
    }
    uint8_t b[64], out[64];
    size_t n;
    evolu_link_store_msg m;
    /* trailing bytes where no data belongs */
    n = unhex("02 0700 00", b);
    EXPECT(evolu_link_store_decode(b, n, &m) == EVOLU_E_TRAILING);
    n = unhex("82 0700 00 00", b);
    EXPECT(evolu_link_store_decode(b, n, &m) == EVOLU_E_TRAILING);
    /* unknown ops and statuses, bad key lengths */
    const char *invalid[] = {"00 0000", "08 0000", "80 0000 00", "88 0000 00", "ff 0000",
                             "82 0000 07", "06 0000 00 00000000 0100",
                             "06 0000 21 " /* 33-byte key */};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        n = unhex(invalid[i], b);
        EXPECT(evolu_link_store_decode(b, n, &m) == EVOLU_E_INVALID);
    }
    EXPECT(evolu_link_store_decode(b, 0, &m) == EVOLU_E_TRUNCATED);
    /* the encoder refuses what the decoder would refuse */
    evolu_link_store_msg e = {EVOLU_LINK_ST_BLOB_GET, 0, 1, 0, NULL, 0, 10, NULL, 0};
    EXPECT(evolu_link_store_encode(&e, out, sizeof out, &n) == EVOLU_E_ARG); /* no key */
    e.key = b;
    e.key_len = EVOLU_LINK_ST_KEY_MAX + 1;
    EXPECT(evolu_link_store_encode(&e, out, sizeof out, &n) == EVOLU_E_ARG);
    e.key_len = 16;
    e.size = 0x10000;
    EXPECT(evolu_link_store_encode(&e, out, sizeof out, &n) == EVOLU_E_LIMIT);
    e.op = 0x08;
    EXPECT(evolu_link_store_encode(&e, out, sizeof out, &n) == EVOLU_E_ARG);
    evolu_link_store_msg rep = {0x82, 7, 1, 0, NULL, 0, 0, NULL, 0};
    EXPECT(evolu_link_store_encode(&rep, out, sizeof out, &n) == EVOLU_E_ARG);
    evolu_link_store_msg app = {EVOLU_LINK_ST_INDEX_APPEND, 0, 1, 0, NULL, 0, 0, NULL, 4};
    EXPECT(evolu_link_store_encode(&app, out, sizeof out, &n) == EVOLU_E_ARG);
}

int main(void) {
    messages();
    store_codec();
    printf("test_link_msg: %d checked, %d failed\n", g_checked, g_failed);
    return g_failed ? 1 : 0;
}
