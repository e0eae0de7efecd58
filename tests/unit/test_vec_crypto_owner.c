/* test_vec_crypto_owner.c - the owner vectors of crypto_owner.json (spec 5.1,
 * 5.2): owners_from_mnemonic, package_testAppOwner, slip21_official_vector.
 * encrypted_db_change and timestamp_tamper_check are another program's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/id.h"
#include "evolu/owner.h"
#include "vec.h"

/* Compares bytes with the hex member `key` of obj. */
static bool eq_hex(const uint8_t *got, size_t n, const cJSON *obj, const char *key) {
    uint8_t want[128];
    size_t wn = vec_unhex(vec_str(obj, key), want, sizeof want);
    return wn == n && memcmp(got, want, n) == 0;
}

static bool eq_id(const uint8_t id[EVOLU_ID_BYTES], const char *want) {
    char s[EVOLU_ID_CHARS];
    evolu_id_to_string(id, s);
    return strlen(want) == EVOLU_ID_CHARS && memcmp(s, want, EVOLU_ID_CHARS) == 0;
}

/* A JSON path (strings and numbers) as SLIP-21 labels; numbers become JS
 * String(n). Label text lives in store. Returns the element count. */
static size_t json_path(const cJSON *arr, evolu_slip21_label *path, size_t cap,
                        char store[][EVOLU_SLIP21_INT_LABEL_MAX]) {
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (n == cap) exit(2);
        if (cJSON_IsString(e)) {
            path[n].p = e->valuestring;
            path[n].n = strlen(e->valuestring);
        } else if (cJSON_IsNumber(e)) {
            path[n].p = store[n];
            path[n].n = evolu_slip21_int_label((int64_t)e->valuedouble, store[n]);
        } else {
            exit(2);
        }
        n++;
    }
    return n;
}

static void slip21_nodes(const evolu_port *port, const uint8_t *secret, size_t sn,
                         const cJSON *slip, size_t idx) {
    uint8_t node[EVOLU_SLIP21_NODE_BYTES];
    const cJSON *nd;
    bool first = true;
    cJSON_ArrayForEach(nd, vec_get(slip, "nodes")) {
        const char *label = vec_str(nd, "label");
        if (first)
            evolu_slip21_master(port, secret, sn, node);
        else
            evolu_slip21_child(port, node, label, strlen(label), node);
        first = false;
        vec_check(eq_hex(node, sizeof node, nd, "node"), "owner[%zu] slip21 node %s: got %s",
                  idx, label, vec_hex(node, sizeof node));
    }
    vec_check(!first && eq_hex(node + 32, 32, slip, "key"), "owner[%zu] slip21 last node key",
              idx);
}

static void owners_from_mnemonic(const evolu_port *port, const cJSON *root) {
    vec_section("owners_from_mnemonic");
    static const evolu_slip21_label id_path[] = {EVOLU_SLIP21_LABEL("Evolu"),
                                                 EVOLU_SLIP21_LABEL("OwnerIdBytes")};
    static const evolu_slip21_label enc_path[] = {EVOLU_SLIP21_LABEL("Evolu"),
                                                  EVOLU_SLIP21_LABEL("OwnerEncryptionKey")};
    static const evolu_slip21_label wk_path[] = {EVOLU_SLIP21_LABEL("Evolu"),
                                                 EVOLU_SLIP21_LABEL("OwnerWriteKey")};
    const cJSON *v;
    size_t idx = 0;
    cJSON_ArrayForEach(v, vec_get(root, "owners_from_mnemonic")) {
        const char *mn = vec_str(v, "mnemonic");
        uint8_t want_secret[64];
        size_t wsn = vec_unhex(vec_str(v, "ownerSecret"), want_secret, sizeof want_secret);

        /* mnemonic -> secret */
        uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
        size_t sn = 0;
        evolu_err e = evolu_mnemonic_to_secret(port, mn, strlen(mn), secret, &sn);
        vec_check(e == EVOLU_OK && sn == wsn && !memcmp(secret, want_secret, sn),
                  "owner[%zu] mnemonic -> secret: %s %s", idx, evolu_errname(e),
                  vec_hex(secret, sn));

        /* secret -> mnemonic, and the package's own round-trip flag */
        char text[EVOLU_MNEMONIC_MAX_CHARS + 1];
        evolu_writer w = evolu_writer_make((uint8_t *)text, sizeof text);
        e = evolu_mnemonic_from_secret(port, want_secret, wsn, &w);
        bool same = e == EVOLU_OK && w.len == strlen(mn) && !memcmp(text, mn, w.len);
        vec_check(same, "owner[%zu] secret -> mnemonic: %s \"%.*s\"", idx, evolu_errname(e),
                  (int)w.len, text);
        const cJSON *rt = vec_get(v, "mnemonicRoundTrip");
        vec_check(cJSON_IsBool(rt) && (cJSON_IsTrue(rt) == same),
                  "owner[%zu] mnemonicRoundTrip", idx);

        /* createOwner */
        evolu_owner o;
        memset(&o, 0, sizeof o);
        e = evolu_owner_from_secret(port, want_secret, wsn, &o);
        vec_check(e == EVOLU_OK && eq_hex(o.id, sizeof o.id, v, "ownerIdBytes"),
                  "owner[%zu] ownerIdBytes: %s", idx, vec_hex(o.id, sizeof o.id));
        vec_check(eq_id(o.id, vec_str(v, "ownerId")), "owner[%zu] ownerId", idx);
        vec_check(eq_hex(o.encryption_key, sizeof o.encryption_key, v, "encryptionKey"),
                  "owner[%zu] encryptionKey: %s", idx,
                  vec_hex(o.encryption_key, sizeof o.encryption_key));
        vec_check(eq_hex(o.write_key, sizeof o.write_key, v, "writeKey"),
                  "owner[%zu] writeKey: %s", idx, vec_hex(o.write_key, sizeof o.write_key));

        /* SLIP-21 intermediate nodes and the full 32-byte keys */
        slip21_nodes(port, want_secret, wsn, vec_get(v, "slip21_OwnerIdBytes"), idx);
        uint8_t key[EVOLU_SLIP21_KEY_BYTES];
        evolu_slip21_derive(port, want_secret, wsn, enc_path, 2, key);
        vec_check(eq_hex(key, sizeof key, v, "slip21_OwnerEncryptionKey_key"),
                  "owner[%zu] slip21 OwnerEncryptionKey", idx);
        evolu_slip21_derive(port, want_secret, wsn, wk_path, 2, key);
        vec_check(eq_hex(key, sizeof key, v, "slip21_OwnerWriteKey_key"),
                  "owner[%zu] slip21 OwnerWriteKey", idx);
        evolu_slip21_derive(port, want_secret, wsn, id_path, 2, key);
        vec_check(eq_hex(key, sizeof key, v, "createSlip21_check"),
                  "owner[%zu] createSlip21_check", idx);

        /* deriveShardOwner(owner, path) */
        const cJSON *sh = vec_get(v, "shard_contacts_1");
        evolu_slip21_label path[8];
        char store[8][EVOLU_SLIP21_INT_LABEL_MAX];
        size_t pn = json_path(vec_get(sh, "path"), path, 8, store);
        evolu_slip21_derive(port, o.encryption_key, sizeof o.encryption_key, path, pn, key);
        vec_check(eq_hex(key, sizeof key, sh, "secret"), "owner[%zu] shard secret: %s", idx,
                  vec_hex(key, sizeof key));
        evolu_owner s;
        e = evolu_owner_derive_shard(port, &o, path, pn, &s);
        vec_check(e == EVOLU_OK && eq_id(s.id, vec_str(sh, "ownerId")),
                  "owner[%zu] shard ownerId", idx);
        vec_check(eq_hex(s.encryption_key, sizeof s.encryption_key, sh, "encryptionKey"),
                  "owner[%zu] shard encryptionKey", idx);
        vec_check(eq_hex(s.write_key, sizeof s.write_key, sh, "writeKey"),
                  "owner[%zu] shard writeKey", idx);
        evolu_owner_wipe(port, &s);
        evolu_owner_wipe(port, &o);
        idx++;
    }
}

static void package_test_app_owner(const cJSON *root) {
    vec_section("package_testAppOwner");
    const cJSON *v = vec_get(root, "package_testAppOwner");
    uint8_t id[EVOLU_ID_BYTES];
    size_t n = vec_unhex(vec_str(v, "idBytes"), id, sizeof id);
    vec_check(n == sizeof id && eq_id(id, vec_str(v, "id")), "testAppOwner id <-> idBytes");
    vec_skip("testAppOwner id/encryptionKey/writeKey: derived from testOwnerSecret, which the "
             "package draws from its seeded test RNG (testCreateRandomLib); the secret is not "
             "in the vector");
}

static void slip21_official(const evolu_port *port, const cJSON *root) {
    vec_section("slip21_official_vector");
    const cJSON *v = vec_get(root, "slip21_official_vector");
    uint8_t seed[64];
    size_t sn = vec_unhex(vec_str(v, "seed"), seed, sizeof seed);
    static const evolu_slip21_label path[] = {EVOLU_SLIP21_LABEL("SLIP-0021"),
                                              EVOLU_SLIP21_LABEL("Master encryption key")};
    static const evolu_slip21_label auth[] = {EVOLU_SLIP21_LABEL("SLIP-0021"),
                                              EVOLU_SLIP21_LABEL("Authentication key")};
    static const struct {
        const char *member;
        const evolu_slip21_label *path;
        size_t n;
    } cases[] = {
        {"m", NULL, 0},
        {"m/SLIP-0021", path, 1},
        {"m/SLIP-0021/Master encryption key", path, 2},
        {"m/SLIP-0021/Authentication key", auth, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t key[EVOLU_SLIP21_KEY_BYTES];
        evolu_slip21_derive(port, seed, sn, cases[i].path, cases[i].n, key);
        vec_check(sn == 64 && eq_hex(key, sizeof key, v, cases[i].member), "%s: got %s",
                  cases[i].member, vec_hex(key, sizeof key));
    }
}

int main(void) {
    cJSON *root = vec_open("crypto_owner.json");
    const evolu_port *port = vec_port();
    owners_from_mnemonic(port, root);
    package_test_app_owner(root);
    slip21_official(port, root);
    cJSON_Delete(root);
    return vec_finish();
}
