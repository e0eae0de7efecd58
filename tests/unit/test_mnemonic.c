/* test_mnemonic.c - edge cases and bad input for the mnemonic codec, SLIP-21
 * labels and owner derivation (the vectors are in test_vec_crypto_owner.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bip39_words.h"
#include "evolu/owner.h"
#include "vec.h"

static const evolu_port *P;

static const size_t k_lengths[] = {16, 20, 24, 28, 32};

static size_t word_len(size_t i) {
    return (size_t)(evolu_bip39_offsets[i + 1] - evolu_bip39_offsets[i]);
}
static const char *word_at(size_t i) { return evolu_bip39_chars + evolu_bip39_offsets[i]; }

static size_t find_word(const char *w) {
    for (size_t i = 0; i < EVOLU_BIP39_WORD_COUNT; i++)
        if (word_len(i) == strlen(w) && !memcmp(word_at(i), w, word_len(i))) return i;
    fprintf(stderr, "word %s not in the list\n", w);
    exit(2);
}

/* Writes the mnemonic of secret into buf (NUL-terminated); returns its length. */
static size_t to_text(const uint8_t *secret, size_t n, char *buf, size_t cap) {
    evolu_writer w = evolu_writer_make((uint8_t *)buf, cap - 1);
    evolu_err e = evolu_mnemonic_from_secret(P, secret, n, &w);
    if (e != EVOLU_OK) {
        fprintf(stderr, "to_text: %s\n", evolu_errname(e));
        exit(2);
    }
    buf[w.len] = 0;
    return w.len;
}

static evolu_err parse(const char *s, size_t n, uint8_t *out, size_t *out_len) {
    return evolu_mnemonic_to_secret(P, s, n, out, out_len);
}

static evolu_err parse_str(const char *s) {
    uint8_t out[32];
    size_t n = 99;
    evolu_err e = parse(s, strlen(s), out, &n);
    if (e != EVOLU_OK && n != 0) return EVOLU_E_STATE; /* must report no secret */
    return e;
}

/* The generated table: 2048 words, lowercase ASCII, 3..8 letters, strictly
 * sorted (the binary search depends on it). */
static void wordlist_shape(void) {
    bool ok = evolu_bip39_offsets[0] == 0;
    for (size_t i = 0; i < EVOLU_BIP39_WORD_COUNT; i++) {
        size_t n = word_len(i);
        ok &= n >= 3 && n <= EVOLU_BIP39_WORD_MAX;
        for (size_t k = 0; k < n; k++) ok &= word_at(i)[k] >= 'a' && word_at(i)[k] <= 'z';
        if (i) {
            size_t m = word_len(i - 1) < n ? word_len(i - 1) : n;
            int c = memcmp(word_at(i - 1), word_at(i), m);
            ok &= c < 0 || (c == 0 && word_len(i - 1) < n);
        }
    }
    CHECK(ok);
}

/* Every word, in the first position, both ways. */
static void every_word(void) {
    bool ok = true;
    for (size_t i = 0; i < EVOLU_BIP39_WORD_COUNT; i++) {
        uint8_t secret[16] = {0}, back[32];
        secret[0] = (uint8_t)(i >> 3);
        secret[1] = (uint8_t)((i & 7) << 5);
        char text[EVOLU_MNEMONIC_MAX_CHARS + 1];
        size_t n = to_text(secret, sizeof secret, text, sizeof text);
        size_t bn = 0;
        ok &= n > word_len(i) && !memcmp(text, word_at(i), word_len(i)) && text[word_len(i)] == ' ';
        ok &= parse(text, n, back, &bn) == EVOLU_OK && bn == 16 && !memcmp(back, secret, 16);
    }
    CHECK(ok);
}

static void round_trips(void) {
    for (size_t li = 0; li < sizeof k_lengths / sizeof k_lengths[0]; li++) {
        size_t n = k_lengths[li];
        bool ok = true;
        for (int iter = 0; iter < 300; iter++) {
            uint8_t secret[32], back[32];
            P->random(P->ctx, secret, n);
            char text[EVOLU_MNEMONIC_MAX_CHARS + 1];
            size_t tn = to_text(secret, n, text, sizeof text);
            size_t words = 1;
            for (size_t k = 0; k < tn; k++) words += text[k] == ' ';
            size_t bn = 0;
            ok &= words == n * 3 / 4 && tn <= EVOLU_MNEMONIC_MAX_CHARS;
            ok &= parse(text, tn, back, &bn) == EVOLU_OK && bn == n && !memcmp(back, secret, n);
            /* a cap-0 writer measures the same length */
            evolu_writer m = evolu_writer_make(NULL, 0);
            ok &= evolu_mnemonic_from_secret(P, secret, n, &m) == EVOLU_E_BUFFER && m.len == tn;
        }
        vec_check(ok, "round trip of %zu-byte secrets", n);
    }
    /* the longest possible text fits EVOLU_MNEMONIC_MAX_CHARS */
    size_t longest = 0;
    for (size_t i = 0; i < EVOLU_BIP39_WORD_COUNT; i++)
        if (word_len(i) > longest) longest = word_len(i);
    CHECK(longest * 24 + 23 == EVOLU_MNEMONIC_MAX_CHARS);
}

/* Replaces word k (0-based) of a space-separated text with w. */
static void replace_word(const char *in, size_t k, const char *w, char *out, size_t cap) {
    size_t o = 0, word = 0;
    for (const char *p = in;; p++) {
        if (word == k) {
            const char *end = strchr(p, ' ');
            size_t wl = strlen(w);
            if (o + wl >= cap) exit(2);
            memcpy(out + o, w, wl);
            o += wl;
            p = end ? end : p + strlen(p);
            word++;
        }
        if (o + 1 >= cap) exit(2);
        if (!*p) break;
        if (*p == ' ') word++;
        out[o++] = *p;
    }
    out[o] = 0;
}

static void bad_checksum(void) {
    for (size_t li = 0; li < sizeof k_lengths / sizeof k_lengths[0]; li++) {
        size_t n = k_lengths[li];
        uint8_t secret[32];
        P->random(P->ctx, secret, n);
        char text[256], bad[256];
        to_text(secret, n, text, sizeof text);
        /* flip the lowest bit of the last word: a checksum bit */
        const char *last = strrchr(text, ' ') + 1;
        size_t idx = 0;
        for (idx = 0; idx < EVOLU_BIP39_WORD_COUNT; idx++)
            if (word_len(idx) == strlen(last) && !memcmp(word_at(idx), last, strlen(last))) break;
        size_t other = idx ^ 1;
        char w[16];
        memcpy(w, word_at(other), word_len(other));
        w[word_len(other)] = 0;
        replace_word(text, n * 3 / 4 - 1, w, bad, sizeof bad);
        vec_check(parse_str(bad) == EVOLU_E_MNEMONIC_CHECKSUM, "checksum %zu bytes: %s", n, bad);
    }
}

static void bad_words_and_counts(void) {
    uint8_t secret[32] = {0};
    char text[256], bad[512];
    P->random(P->ctx, secret, 16);
    to_text(secret, 16, text, sizeof text);
    CHECK(parse_str(text) == EVOLU_OK);

    /* unknown words */
    const char *unknown[] = {"zzz", "abandonx", "Abandon", "ABANDON", "aband", "actio",
                             "actions", "", "a", "abandon\t"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        replace_word(text, 5, unknown[i], bad, sizeof bad);
        vec_check(parse_str(bad) == EVOLU_E_MNEMONIC_WORD, "unknown word \"%s\": %s",
                  unknown[i], evolu_errname(parse_str(bad)));
    }
    /* NUL inside a word, and non-ASCII letters NFKD would fold (rejected here) */
    char nul[256];
    size_t tn = strlen(text);
    memcpy(nul, text, tn);
    nul[2] = 0;
    uint8_t out[32];
    size_t on = 1;
    CHECK(parse(nul, tn, out, &on) == EVOLU_E_MNEMONIC_WORD && on == 0);
    replace_word(text, 0, "\xef\xbd\x81" "bandon", bad, sizeof bad); /* full-width a */
    CHECK(parse_str(bad) == EVOLU_E_MNEMONIC_WORD);

    /* word counts: every count 0..30 but the five valid ones */
    for (size_t words = 1; words <= 30; words++) {
        char s[512] = "";
        for (size_t k = 0; k < words; k++) strcat(s, k ? " abandon" : "abandon");
        evolu_err e = parse_str(s);
        bool valid = words >= 12 && words <= 24 && words % 3 == 0;
        /* abandon x N has a zero checksum; only the checksum can then fail */
        vec_check(valid ? (e == EVOLU_E_MNEMONIC_CHECKSUM || e == EVOLU_OK)
                        : e == EVOLU_E_MNEMONIC_LENGTH,
                  "%zu words: %s", words, evolu_errname(e));
    }
    CHECK(parse_str("") == EVOLU_E_MNEMONIC_LENGTH);
    CHECK(parse(NULL, 0, out, &on) == EVOLU_E_MNEMONIC_LENGTH);
    CHECK(parse(NULL, 5, out, &on) == EVOLU_E_ARG);
    CHECK(evolu_mnemonic_to_secret(P, text, strlen(text), out, NULL) == EVOLU_E_ARG);

    /* separators: doubled, leading, trailing spaces add an empty word (12 -> 13
     * is a count error); in an 11-word text the empty word is unknown */
    snprintf(bad, sizeof bad, " %s", text);
    CHECK(parse_str(bad) == EVOLU_E_MNEMONIC_LENGTH);
    snprintf(bad, sizeof bad, "%s ", text);
    CHECK(parse_str(bad) == EVOLU_E_MNEMONIC_LENGTH);
    {
        /* "w1  w2 ...": a doubled space after the first word */
        char dbl[512];
        size_t first = (size_t)(strchr(text, ' ') - text);
        snprintf(dbl, sizeof dbl, "%.*s %s", (int)(first + 1), text, text + first + 1);
        CHECK(parse_str(dbl) == EVOLU_E_MNEMONIC_LENGTH);
        /* drop the last word: 11 words + one empty = 12 elements */
        *strrchr(dbl, ' ') = 0;
        CHECK(parse_str(dbl) == EVOLU_E_MNEMONIC_WORD);
    }
    /* tabs and newlines are not separators */
    snprintf(bad, sizeof bad, "%s", text);
    for (char *p = bad; *p; p++)
        if (*p == ' ') *p = '\t';
    CHECK(parse_str(bad) == EVOLU_E_MNEMONIC_LENGTH);
    snprintf(bad, sizeof bad, "%s\n", text);
    CHECK(parse_str(bad) == EVOLU_E_MNEMONIC_WORD);
}

/* "act" is a prefix of "action": both must be found as themselves. */
static void prefix_words(void) {
    const char *pair[] = {"act", "action"};
    uint8_t back[32];
    for (size_t k = 0; k < 2; k++) {
        size_t i = find_word(pair[k]);
        uint8_t secret[16] = {0};
        secret[0] = (uint8_t)(i >> 3);
        secret[1] = (uint8_t)((i & 7) << 5);
        char text[256];
        size_t n = to_text(secret, 16, text, sizeof text);
        size_t bn = 0;
        vec_check(!strncmp(text, pair[k], strlen(pair[k])) && text[strlen(pair[k])] == ' ' &&
                      parse(text, n, back, &bn) == EVOLU_OK && bn == 16 &&
                      !memcmp(back, secret, 16),
                  "prefix word %s", pair[k]);
    }
}

static void overlong(void) {
    size_t big = 1u << 20;
    char *s = malloc(big);
    if (!s) exit(2);
    uint8_t out[32];
    size_t on = 7;
    memset(s, 'a', big);
    CHECK(parse(s, big, out, &on) == EVOLU_E_MNEMONIC_LENGTH && on == 0);
    memset(s, ' ', big);
    CHECK(parse(s, big, out, &on) == EVOLU_E_MNEMONIC_LENGTH && on == 0);
    /* twelve words, one of them huge */
    memset(s, 'a', big);
    for (size_t k = 1; k <= 11; k++) s[k * 2] = ' ';
    CHECK(parse(s, big, out, &on) == EVOLU_E_MNEMONIC_WORD && on == 0);
    /* a valid mnemonic followed by one more character */
    uint8_t secret[32];
    P->random(P->ctx, secret, 32);
    size_t n = to_text(secret, 32, s, big);
    s[n] = 'x';
    CHECK(parse(s, n + 1, out, &on) == EVOLU_E_MNEMONIC_WORD && on == 0);
    CHECK(parse(s, n, out, &on) == EVOLU_OK && on == 32 && !memcmp(out, secret, 32));
    free(s);
}

static void writer_errors(void) {
    uint8_t secret[64] = {1, 2, 3};
    const size_t bad[] = {0, 1, 15, 17, 31, 33, 64};
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evolu_writer w = evolu_writer_make(buf, sizeof buf);
        vec_check(evolu_mnemonic_from_secret(P, secret, bad[i], &w) == EVOLU_E_ARG && w.len == 0,
                  "secret of %zu bytes", bad[i]);
    }
    evolu_writer w = evolu_writer_make(buf, 10);
    CHECK(evolu_mnemonic_from_secret(P, secret, 16, &w) == EVOLU_E_BUFFER && w.len > 10);
    CHECK(evolu_mnemonic_from_secret(P, NULL, 16, &w) == EVOLU_E_ARG);
    CHECK(evolu_mnemonic_from_secret(P, secret, 16, NULL) == EVOLU_E_ARG);
}

static void int_labels(void) {
    char b[EVOLU_SLIP21_INT_LABEL_MAX];
    size_t n;
    n = evolu_slip21_int_label(0, b);
    CHECK(n == 1 && !memcmp(b, "0", 1));
    n = evolu_slip21_int_label(1, b);
    CHECK(n == 1 && !memcmp(b, "1", 1));
    n = evolu_slip21_int_label(-42, b);
    CHECK(n == 3 && !memcmp(b, "-42", 3));
    n = evolu_slip21_int_label(9007199254740991LL, b);
    CHECK(n == 16 && !memcmp(b, "9007199254740991", 16));
    n = evolu_slip21_int_label(-9007199254740991LL, b);
    CHECK(n == 17 && !memcmp(b, "-9007199254740991", 17));
    CHECK(evolu_slip21_int_label(9007199254740992LL, b) == 0);
    CHECK(evolu_slip21_int_label(INT64_MIN, b) == 0);
}

static void owners(void) {
    uint8_t secret[64];
    P->random(P->ctx, secret, sizeof secret);
    evolu_owner o, z;
    memset(&z, 0, sizeof z);
    CHECK(evolu_owner_from_secret(P, secret, 15, &o) == EVOLU_E_ARG);
    CHECK(evolu_owner_from_secret(P, secret, 65, &o) == EVOLU_E_ARG);
    CHECK(evolu_owner_from_secret(P, NULL, 32, &o) == EVOLU_E_ARG);
    CHECK(evolu_owner_from_secret(P, secret, 64, &o) == EVOLU_OK);
    CHECK(evolu_owner_from_secret(P, secret, 16, &o) == EVOLU_OK);

    /* the owner's fields are the SLIP-21 keys of its paths */
    static const evolu_slip21_label wk[] = {EVOLU_SLIP21_LABEL("Evolu"),
                                            EVOLU_SLIP21_LABEL("OwnerWriteKey")};
    uint8_t key[32];
    evolu_slip21_derive(P, secret, 16, wk, 2, key);
    CHECK(!memcmp(key, o.write_key, 16));

    /* write key comparison */
    uint8_t other[16];
    memcpy(other, o.write_key, 16);
    CHECK(evolu_write_key_equal(P, o.write_key, other));
    other[15] ^= 1;
    CHECK(!evolu_write_key_equal(P, o.write_key, other));

    /* shard owners: non-empty path; out may be the app owner */
    static const evolu_slip21_label path[] = {EVOLU_SLIP21_LABEL("contacts"),
                                              EVOLU_SLIP21_LABEL("1")};
    evolu_owner s1, s2 = o;
    CHECK(evolu_owner_derive_shard(P, &o, path, 0, &s1) == EVOLU_E_ARG);
    CHECK(evolu_owner_derive_shard(P, &o, path, 2, &s1) == EVOLU_OK);
    CHECK(evolu_owner_derive_shard(P, &s2, path, 2, &s2) == EVOLU_OK);
    CHECK(!memcmp(&s1, &s2, sizeof s1) && memcmp(&s1, &o, sizeof o));

    evolu_owner_wipe(P, &o);
    CHECK(!memcmp(&o, &z, sizeof o));

    uint8_t r1[32] = {0}, r2[32] = {0};
    evolu_owner_secret_random(P, r1);
    evolu_owner_secret_random(P, r2);
    CHECK(memcmp(r1, r2, 32) != 0);
    evolu_owner_write_key_random(P, r1);
    CHECK(memcmp(r1, r2, 16) != 0);
}

int main(void) {
    P = vec_port();
    vec_section("mnemonic");
    wordlist_shape();
    every_word();
    round_trips();
    bad_checksum();
    bad_words_and_counts();
    prefix_words();
    overlong();
    writer_errors();
    vec_section("owner");
    int_labels();
    owners();
    return vec_finish();
}
