/* test_jsnum.c - evolu_js_number_format against a libc reference of
 * Number::toString, and evolu_js_number_parse against strtod.
 *
 * Reference for toString(d): the smallest p in 0..16 such that printf's
 * correctly rounded "%.{p}e" reads back (strtod) as d gives the digits and the
 * exponent, laid out by the JS rules (written again here, independently). At a
 * power of two the rounding interval is lopsided and the closest p-digit
 * decimal may miss while its neighbour hits, so there every p and both
 * neighbours are tried. Fixed seeds; about 1.2 million doubles. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/json.h"
#include "vec.h"

/* Sanitizer builds run a tenth of the random cases (they are ~20x slower);
 * plain builds check 1,000,000+ doubles. */
#if defined(__SANITIZE_ADDRESS__)
#define SCALE 10
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCALE 10
#endif
#endif
#ifndef SCALE
#define SCALE 1
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double from_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
static uint64_t to_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* "%.{p}e" of d as digits (no trailing zeros) and JS exponent n. */
static bool try_p(double d, int p, char *digits, int *n) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", p, d);
    if (strtod(buf, NULL) != d) return false;
    int k = 0;
    char *e = strchr(buf, 'e');
    for (char *c = buf; c < e; c++)
        if (*c >= '0' && *c <= '9') digits[k++] = *c;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = 0;
    *n = atoi(e + 1) + 1;
    return true;
}

/* The closest p-digit decimal misses but a neighbour (last digit +-1) hits. */
static bool try_neighbours(double d, int p, char *digits, int *n) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", p, d);
    char *e = strchr(buf, 'e');
    int x = atoi(e + 1);
    char dg[32];
    int k = 0;
    for (char *c = buf; c < e; c++)
        if (*c >= '0' && *c <= '9') dg[k++] = *c;
    dg[k] = 0;
    unsigned long long m = strtoull(dg, NULL, 10);
    for (int delta = -1; delta <= 1; delta += 2) {
        unsigned long long c = m + (unsigned long long)(long long)delta;
        char cand[64];
        snprintf(cand, sizeof cand, "%llue%d", c, x - p);
        if (strtod(cand, NULL) == d) {
            char cd[32];
            snprintf(cd, sizeof cd, "%llu", c);
            int len = (int)strlen(cd);
            *n = x - p + len;
            while (len > 1 && cd[len - 1] == '0') len--;
            cd[len] = 0;
            strcpy(digits, cd);
            return true;
        }
    }
    return false;
}

static size_t reference(double d, char *out) {
    if (d == 0) return (size_t)sprintf(out, "0");
    char *o = out;
    if (d < 0) {
        *o++ = '-';
        d = -d;
    }
    char dg[40];
    int n = 0;
    bool pow2 = (to_bits(d) & ((1ULL << 52) - 1)) == 0 && (to_bits(d) >> 52) > 1;
    if (pow2) {
        for (int p = 0; p <= 16; p++)
            if (try_p(d, p, dg, &n) || try_neighbours(d, p, dg, &n)) break;
    } else {
        int lo = 0, hi = 16; /* round trip is monotonic in p here */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (try_p(d, mid, dg, &n)) hi = mid;
            else lo = mid + 1;
        }
        try_p(d, lo, dg, &n);
    }
    int k = (int)strlen(dg);
    if (k <= n && n <= 21) {
        o += sprintf(o, "%s%.*s", dg, n - k, "000000000000000000000");
    } else if (0 < n && n <= 21) {
        o += sprintf(o, "%.*s.%s", n, dg, dg + n);
    } else if (-6 < n && n <= 0) {
        o += sprintf(o, "0.%.*s%s", -n, "000000", dg);
    } else {
        o += sprintf(o, "%c", dg[0]);
        if (k > 1) o += sprintf(o, ".%s", dg + 1);
        o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    return (size_t)(o - out);
}

static unsigned long fmt_fail, fmt_count, parse_count;
static void check_format(double d) {
    fmt_count++;
    char got[EVOLU_JS_NUMBER_MAX_CHARS + 1], want[64];
    size_t gn = evolu_js_number_format(d, got);
    got[gn] = 0;
    size_t wn = reference(d, want);
    double back;
    bool ok = gn == wn && !memcmp(got, want, gn) && gn <= EVOLU_JS_NUMBER_MAX_CHARS &&
              evolu_js_number_parse(got, gn, &back) == EVOLU_OK && to_bits(back) == to_bits(d == 0 ? 0.0 : d);
    if (!ok && fmt_fail++ < 20)
        vec_check(false, "format %.17g (%016" PRIx64 "): got %s want %s", d, to_bits(d), got, want);
}

static unsigned long parse_fail;
static void check_parse(const char *s) {
    parse_count++;
    double got = 0;
    evolu_err e = evolu_js_number_parse(s, strlen(s), &got);
    double want = strtod(s, NULL);
    if ((e != EVOLU_OK || to_bits(got) != to_bits(want)) && parse_fail++ < 20)
        vec_check(false, "parse %.80s: got %.17g (%s) want %.17g", s, got, evolu_errname(e), want);
}

static void random_decimal(char *buf, size_t cap) {
    char *o = buf, *end = buf + cap - 40;
    if (rnd() & 1) *o++ = '-';
    int nd = (int)(rnd() % 100 < 80 ? 1 + rnd() % 25 : 1 + rnd() % 900);
    int ni = (int)(rnd() % (uint64_t)(nd + 1)); /* integer digits; 0 means "0" */
    if (ni == 0) {
        *o++ = '0';
    } else {
        *o++ = (char)('1' + rnd() % 9);
        for (int i = 1; i < ni && o < end; i++) *o++ = (char)('0' + rnd() % 10);
    }
    if (nd - ni > 0 || ni == 0) {
        *o++ = '.';
        int nf = nd - ni > 0 ? nd - ni : 1;
        int zeros = rnd() % 4 == 0 ? (int)(rnd() % 30) : 0;
        for (int i = 0; i < zeros && o < end; i++) *o++ = '0';
        for (int i = 0; i < nf && o < end; i++) *o++ = (char)('0' + rnd() % 10);
    }
    if (rnd() % 4) {
        int ex = (int)(rnd() % 800) - 400;
        if (rnd() % 8 == 0) ex = (int)(rnd() % 40) - 20;
        o += sprintf(o, "%c%s%d", rnd() & 1 ? 'e' : 'E', ex >= 0 && (rnd() & 1) ? "+" : "", ex);
    }
    *o = 0;
}

int main(void) {
    /* classic cases, with the JS output spelled out */
    static const struct {
        double d;
        const char *js;
    } known[] = {
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740992.0, "9007199254740992"},
        {0.1 + 0.2, "0.30000000000000004"},
        {9007199254740993.0, "9007199254740992"},
        {1e21, "1e+21"},
        {1e-7, "1e-7"},
        {123e-20, "1.23e-18"},
        {123456789012345678901.0, "123456789012345680000"},
        {-0.0, "0"},
        {0.1, "0.1"},
        {1e20, "100000000000000000000"},
        {0.000001, "0.000001"},
        {-1.5, "-1.5"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {4294967295.0, "4294967295"},
        {1.2345678901234567e-308, "1.2345678901234567e-308"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char got[EVOLU_JS_NUMBER_MAX_CHARS + 1];
        size_t n = evolu_js_number_format(known[i].d, got);
        got[n] = 0;
        vec_check(!strcmp(got, known[i].js), "format: got %s want %s", got, known[i].js);
        check_format(known[i].d);
    }
    char nb[EVOLU_JS_NUMBER_MAX_CHARS + 1];
    size_t nn = evolu_js_number_format(strtod("nan", NULL), nb);
    CHECK(nn == 3 && !memcmp(nb, "NaN", 3));
    nn = evolu_js_number_format(strtod("-inf", NULL), nb);
    CHECK(nn == 9 && !memcmp(nb, "-Infinity", 9));

    /* every power of two (lopsided intervals) and its neighbours */
    for (int e = 1; e < 2047; e++) {
        uint64_t b = (uint64_t)e << 52;
        check_format(from_bits(b));
        check_format(from_bits(b - 1));
        check_format(from_bits(b + 1));
    }
    /* random bit patterns */
    for (int i = 0; i < 500000 / SCALE; i++) {
        uint64_t b = rnd();
        if (((b >> 52) & 0x7ff) == 0x7ff) b &= ~(1ULL << 62);
        check_format(from_bits(b));
    }
    /* "nice" decimals and integers */
    for (int i = 0; i < 300000 / SCALE; i++) {
        char buf[64];
        int digits = 1 + (int)(rnd() % 17);
        uint64_t m = rnd() % 100000000000000000ULL;
        uint64_t mod = 1;
        for (int j = 0; j < digits; j++) mod *= 10;
        snprintf(buf, sizeof buf, "%" PRIu64 "e%d", m % mod, (int)(rnd() % 60) - 30);
        check_format(strtod(buf, NULL));
    }
    for (int i = 0; i < 250000 / SCALE; i++) {
        uint64_t m = rnd() >> (rnd() % 64);
        check_format((double)m);
        check_format(-(double)(int64_t)(m >> 1));
    }
    CHECK(fmt_fail == 0);
    printf("format: %lu doubles compared with the libc reference\n", fmt_count);

    /* parsing */
    static const char *hard[] = {
        "0", "-0", "1", "0.1", "1e400", "-1e400", "1e-400", "-1e-400", "2.4703282292062328e-324",
        "2.4703282292062327e-324", "4.9406564584124654e-324", "2.2250738585072011e-308",
        "2.2250738585072012e-308", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "9007199254740993", "9007199254740993.000000000000001",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "0.000000000000000000000000000000000000000000000000000000000000000000000001e-250",
        "1e0000000000000000000000000000000000000000000000000001", "123456789012345678901234567890",
        "7.038531e-26", "1e23", "8.533e+68", "4.1006e-184", "9.998e+307", "9.9538452227e-280",
        "6.47660115e-260", "7.4e+47", "5.92e+48", "7.35e+66", "8.32116e+55", "0e999999999",
        "1e-999999999999999999999", "1E+2", "1.5E-3",
    };
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) check_parse(hard[i]);
    for (int i = 0; i < 100000 / SCALE; i++) {
        char buf[1024];
        random_decimal(buf, sizeof buf);
        check_parse(buf);
    }
    /* halfway points between neighbouring doubles (exact in long double), and
     * just below / above them */
    for (int i = 0; i < 10000 / SCALE; i++) {
        uint64_t b = rnd() & 0x7fefffffffffffffULL;
        if (i % 3 == 0) b &= 0x000fffffffffffffULL; /* subnormals */
        long double a = (long double)from_bits(b), c = (long double)from_bits(b + 1);
        long double mid = (a + c) / 2;
        char buf[1200];
        snprintf(buf, sizeof buf, "%.800Le", mid);
        check_parse(buf);
        char *e = strchr(buf, 'e');
        char *last = e - 1;
        while (*last == '0' && last > buf + 2) last--;
        char save = *last;
        if (*last > '0') {
            *last = (char)(save - 1); /* a hair below */
            check_parse(buf);
        }
        *last = save;
        memmove(e + 1, e, strlen(e) + 1); /* a hair above: append a 1 */
        *e = '1';
        check_parse(buf);
    }
    CHECK(parse_fail == 0);
    printf("parse: %lu strings compared with strtod\n", parse_count);

    /* grammar: exactly one JSON number */
    static const char *bad[] = {"", "-", "+1", "01", "00", "1.", ".5", "1e", "1e+", "--1", "1 ",
                                " 1", "0x10", "Infinity", "NaN", "1.5.2", "1e5e5", "-.5", "1ee2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double x;
        vec_check(evolu_js_number_parse(bad[i], strlen(bad[i]), &x) == EVOLU_E_JSON,
                  "parse \"%s\" must fail", bad[i]);
    }
    return vec_finish();
}
