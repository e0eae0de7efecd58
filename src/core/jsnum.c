/* jsnum.c - JavaScript number <-> text, exactly (spec 2.7.2).
 *
 * evolu_js_number_format is ECMAScript Number::toString(10): the shortest digit
 * string that reads back as the same double (closest to the exact value, even
 * on a tie), laid out by the JS rules. Digits come from the Steele-White /
 * Burger-Dybvig free-format algorithm on exact big integers: slower than Ryu
 * or Grisu but short, table-free and provably correct.
 *
 * evolu_js_number_parse is correctly rounded decimal -> double: exact double
 * arithmetic for short inputs (Clinger's fast path), otherwise an exact big
 * integer division that yields 64 quotient bits and a sticky bit, rounded once
 * (half to even) at the precision of the result's binade, subnormals included.
 * Digits past the 800th significant one are folded into the sticky bit: a
 * halfway point between doubles has at most 767 significant digits, so they
 * cannot change the result.
 *
 * Freestanding: no libc number conversion, no libm, no allocation. Big integers
 * live on the stack (about 0.8 KB for formatting, 1 KB for parsing).
 */
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evolu/json.h"

/* --- small fixed-capacity big integers ------------------------------------------ */

typedef struct big {
    uint32_t *d; /* little-endian limbs */
    int n;       /* limbs in use; no leading zero limbs; 0 means zero */
    int cap;
} big;

#define FMT_LIMBS 40   /* 1280 bits: values below 2^1090 occur in formatting */
#define PARSE_LIMBS 128 /* 4096 bits: 10^1124 * 2^64 and 10^800 * 2^1300 fit */

static void big_init(big *b, uint32_t *store, int cap) {
    b->d = store;
    b->n = 0;
    b->cap = cap;
}

static void big_set_u64(big *b, uint64_t v) {
    b->n = 0;
    while (v) {
        b->d[b->n++] = (uint32_t)v;
        v >>= 32;
    }
}

/* The capacities above are chosen so that no operation overflows; the guards
 * only keep memory safe should that reasoning ever be wrong. */
static void big_mul_u32(big *b, uint32_t m) {
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->d[i] * m + carry;
        b->d[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && b->n < b->cap) b->d[b->n++] = (uint32_t)carry;
}

static void big_add_u32(big *b, uint32_t a) {
    uint64_t carry = a;
    for (int i = 0; i < b->n && carry; i++) {
        uint64_t t = (uint64_t)b->d[i] + carry;
        b->d[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && b->n < b->cap) b->d[b->n++] = (uint32_t)carry;
}

static void big_mul_pow10(big *b, unsigned k) {
    while (k >= 9) {
        big_mul_u32(b, 1000000000u);
        k -= 9;
    }
    static const uint32_t p10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    if (k) big_mul_u32(b, p10[k]);
}

static void big_shl(big *b, unsigned k) {
    if (b->n == 0) return;
    unsigned words = k / 32, bits = k % 32;
    int n = b->n + (int)words + 1;
    if (n > b->cap) n = b->cap;
    for (int i = n - 1; i >= 0; i--) {
        int src = i - (int)words;
        uint32_t hi = (src >= 0 && src < b->n) ? b->d[src] : 0;
        uint32_t lo = (src - 1 >= 0 && src - 1 < b->n) ? b->d[src - 1] : 0;
        b->d[i] = bits ? (hi << bits) | (lo >> (32 - bits)) : hi;
    }
    b->n = n;
    while (b->n && b->d[b->n - 1] == 0) b->n--;
}

static void big_shr1(big *b) {
    for (int i = 0; i < b->n; i++) {
        uint32_t next = (i + 1 < b->n) ? b->d[i + 1] : 0;
        b->d[i] = (b->d[i] >> 1) | (next << 31);
    }
    while (b->n && b->d[b->n - 1] == 0) b->n--;
}

static int big_cmp(const big *a, const big *b) {
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* a -= b, requires a >= b */
static void big_sub(big *a, const big *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t t = (uint64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        a->d[i] = (uint32_t)t;
        borrow = (t >> 63) & 1;
    }
    while (a->n && a->d[a->n - 1] == 0) a->n--;
}

/* The digit r / s (r < 10 s), leaving r % s in r. An underestimate from the
 * top limbs is subtracted in one pass, then corrected by single steps. */
static int big_divmod_small(big *r, const big *s) {
    if (r->n < s->n) return 0;
    uint64_t top = r->d[s->n - 1];
    if (r->n > s->n) top |= (uint64_t)r->d[s->n] << 32;
    uint32_t q = (uint32_t)(top / ((uint64_t)s->d[s->n - 1] + 1));
    if (q > 9) q = 9;
    if (q) {
        uint64_t carry = 0, borrow = 0;
        for (int i = 0; i < r->n; i++) {
            uint64_t prod = (i < s->n ? (uint64_t)s->d[i] * q : 0) + carry;
            carry = prod >> 32;
            uint64_t t = (uint64_t)r->d[i] - (uint32_t)prod - borrow;
            r->d[i] = (uint32_t)t;
            borrow = (t >> 63) & 1;
        }
        while (r->n && r->d[r->n - 1] == 0) r->n--;
    }
    int d = (int)q;
    while (big_cmp(r, s) >= 0) {
        big_sub(r, s);
        d++;
    }
    return d;
}

/* out = a + b */
static void big_add(big *out, const big *a, const big *b) {
    int n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t = (uint64_t)(i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
        out->d[i] = (uint32_t)t;
        carry = t >> 32;
    }
    out->n = n;
    if (carry && n < out->cap) out->d[out->n++] = (uint32_t)carry;
}

static unsigned bitlen32(uint32_t v) {
    unsigned n = 0;
    if (v >> 16) { n += 16; v >>= 16; }
    if (v >> 8) { n += 8; v >>= 8; }
    if (v >> 4) { n += 4; v >>= 4; }
    if (v >> 2) { n += 2; v >>= 2; }
    if (v >> 1) { n += 1; v >>= 1; }
    return n + v;
}

static unsigned bitlen64(uint64_t v) {
    return (v >> 32) ? 32 + bitlen32((uint32_t)(v >> 32)) : bitlen32((uint32_t)v);
}

static unsigned big_bitlen(const big *b) {
    return b->n ? (unsigned)(b->n - 1) * 32 + bitlen32(b->d[b->n - 1]) : 0;
}

/* --- double bits ---------------------------------------------------------------- */

static uint64_t dbits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bitsd(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* --- formatting ----------------------------------------------------------------- */

/* Shortest digits of a positive finite double: digits[0..k) with value
 * 0.d1d2...dk * 10^*n (so *n is the JS "n"). Returns k (1..17). */
static int shortest_digits_big(uint64_t f, int e, unsigned be, char digits[20], int *n_out);
static int shortest_digits(uint64_t bits, char digits[20], int *n_out) {
    unsigned be = (unsigned)(bits >> 52) & 0x7ff;
    uint64_t f = bits & ((1ULL << 52) - 1);
    int e;
    if (be == 0) {
        e = -1074;
    } else {
        f |= 1ULL << 52;
        e = (int)be - 1075;
    }
    /* Integers below 2^53: every nearby integer is representable, so the
     * shortest round trip is the integer itself without trailing zeros. */
    if (e <= 0 && e > -53 && (f & ((1ULL << -e) - 1)) == 0) {
        uint64_t iv = f >> -e;
        char tmp[20];
        int len = 0;
        while (iv) {
            tmp[len++] = (char)('0' + iv % 10);
            iv /= 10;
        }
        int k = 0;
        int first = 0;
        while (tmp[first] == '0') first++;
        for (int i = len - 1; i >= first; i--) digits[k++] = tmp[i];
        *n_out = len;
        return k;
    }
    return shortest_digits_big(f, e, be, digits, n_out);
}

/* The general case (Steele & White / dragon4 with exact big integers): its
 * five 160-byte numbers stay off the stack of the integer path above, which
 * a device decoding a JSON value deep in its call chain takes for every
 * integer. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int shortest_digits_big(uint64_t f, int e, unsigned be, char digits[20], int *n_out) {
    uint32_t rs[FMT_LIMBS], ss[FMT_LIMBS], mps[FMT_LIMBS], mms[FMT_LIMBS], ts[FMT_LIMBS];
    big r, s, mp, mm, t;
    big_init(&r, rs, FMT_LIMBS);
    big_init(&s, ss, FMT_LIMBS);
    big_init(&mp, mps, FMT_LIMBS);
    big_init(&mm, mms, FMT_LIMBS);
    big_init(&t, ts, FMT_LIMBS);
    bool even = (f & 1) == 0;
    bool unequal = (f == (1ULL << 52)) && be > 1; /* gap below is half the gap above */

    /* v = r / s; the rounding interval is (v - mm/s, v + mp/s). */
    if (e >= 0) {
        big_set_u64(&r, f);
        big_shl(&r, (unsigned)e + (unequal ? 2 : 1));
        big_set_u64(&s, unequal ? 4 : 2);
        big_set_u64(&mp, 1);
        big_shl(&mp, (unsigned)e + (unequal ? 1 : 0));
        big_set_u64(&mm, 1);
        big_shl(&mm, (unsigned)e);
    } else {
        big_set_u64(&r, f << (unequal ? 2 : 1));
        big_set_u64(&s, 1);
        big_shl(&s, (unsigned)(-e) + (unequal ? 2 : 1));
        big_set_u64(&mp, unequal ? 2 : 1);
        big_set_u64(&mm, 1);
    }

    /* k estimate from the binary exponent, deliberately low by up to 2;
     * the loop below raises it to the exact value. */
    int e2 = e + (int)bitlen64(f) - 1;
    int64_t prod = (int64_t)e2 * 78913;
    int k = (int)(prod >= 0 ? prod >> 18 : -((-prod + 262143) >> 18));
    k -= 1;
    if (k >= 0) {
        big_mul_pow10(&s, (unsigned)k);
    } else {
        big_mul_pow10(&r, (unsigned)-k);
        big_mul_pow10(&mp, (unsigned)-k);
        if (unequal) big_mul_pow10(&mm, (unsigned)-k);
    }
    for (;;) {
        big_add(&t, &r, &mp);
        int c = big_cmp(&t, &s);
        if (even ? c < 0 : c <= 0) break;
        big_mul_u32(&s, 10);
        k++;
    }

    int len = 0;
    for (;;) {
        big_mul_u32(&r, 10);
        big_mul_u32(&mp, 10);
        if (unequal) big_mul_u32(&mm, 10);
        int d = big_divmod_small(&r, &s);
        int c1 = big_cmp(&r, unequal ? &mm : &mp);
        bool low = even ? c1 <= 0 : c1 < 0;
        big_add(&t, &r, &mp);
        int c2 = big_cmp(&t, &s);
        bool high = even ? c2 >= 0 : c2 > 0;
        if (!low && !high && len < 18) {
            digits[len++] = (char)('0' + d);
            continue;
        }
        if (low && high) {
            big_add(&t, &r, &r);
            int c3 = big_cmp(&t, &s);
            if (c3 > 0 || (c3 == 0 && (d & 1))) d++;
        } else if (high) {
            d++;
        }
        digits[len++] = (char)('0' + d);
        break;
    }
    *n_out = k;
    return len;
}

size_t evolu_js_number_format(double v, char out[EVOLU_JS_NUMBER_MAX_CHARS]) {
    uint64_t bits = dbits(v);
    size_t o = 0;
    if (((bits >> 52) & 0x7ff) == 0x7ff) {
        if (bits & ((1ULL << 52) - 1)) {
            memcpy(out, "NaN", 3);
            return 3;
        }
        if (bits >> 63) out[o++] = '-';
        memcpy(out + o, "Infinity", 8);
        return o + 8;
    }
    if ((bits & ~(1ULL << 63)) == 0) {
        out[0] = '0';
        return 1;
    }
    if (bits >> 63) out[o++] = '-';
    char dg[20];
    int n;
    int k = shortest_digits(bits & ~(1ULL << 63), dg, &n);
    if (k <= n && n <= 21) {
        for (int i = 0; i < k; i++) out[o++] = dg[i];
        for (int i = k; i < n; i++) out[o++] = '0';
    } else if (0 < n && n <= 21) {
        for (int i = 0; i < n; i++) out[o++] = dg[i];
        out[o++] = '.';
        for (int i = n; i < k; i++) out[o++] = dg[i];
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -n; i++) out[o++] = '0';
        for (int i = 0; i < k; i++) out[o++] = dg[i];
    } else {
        out[o++] = dg[0];
        if (k > 1) {
            out[o++] = '.';
            for (int i = 1; i < k; i++) out[o++] = dg[i];
        }
        out[o++] = 'e';
        int x = n - 1;
        out[o++] = x < 0 ? '-' : '+';
        if (x < 0) x = -x;
        char eb[4];
        int el = 0;
        do {
            eb[el++] = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        while (el) out[o++] = eb[--el];
    }
    return o;
}

/* --- parsing -------------------------------------------------------------------- */

#define MAX_SIG_DIGITS 800

/* Rounds q * 2^e2 (q != 0, with `sticky` meaning "plus a little more") to a
 * double, half to even. */
static uint64_t round_to_bits(uint64_t q, int e2, bool sticky) {
    unsigned bl = bitlen64(q);
    int lead = e2 + (int)bl - 1; /* exponent of the leading bit */
    if (lead > 1023) return 0x7ffULL << 52;
    int prec = 53;
    if (lead < -1022) prec = lead + 1075; /* subnormal: fewer bits below 2^-1022 */
    int shift = (int)bl - prec;
    if (shift > 64) return 0;
    uint64_t kept, rem, half;
    if (shift <= 0) {
        kept = q << -shift;
        rem = 0;
        half = 1;
    } else if (shift == 64) {
        kept = 0;
        rem = q;
        half = 1ULL << 63;
    } else {
        kept = q >> shift;
        rem = q & ((1ULL << shift) - 1);
        half = 1ULL << (shift - 1);
    }
    if (shift > 0 && (rem > half || (rem == half && (sticky || (kept & 1))))) kept++;
    int exp2 = e2 + shift; /* value = kept * 2^exp2 */
    if (kept >= (1ULL << 53)) {
        kept >>= 1;
        exp2++;
    }
    if (kept < (1ULL << 52)) return kept; /* subnormal (exp2 == -1074) or zero */
    int biased = exp2 + 1075;
    if (biased >= 2047) return 0x7ffULL << 52;
    return ((uint64_t)biased << 52) | (kept & ((1ULL << 52) - 1));
}

/* Exact path: value = D * 10^E, D = digits (at most MAX_SIG_DIGITS). */
static uint64_t parse_slow(const char *s, size_t n, int64_t E, bool sticky) {
    uint32_t as[PARSE_LIMBS], bs[PARSE_LIMBS];
    big a, b;
    big_init(&a, as, PARSE_LIMBS);
    big_init(&b, bs, PARSE_LIMBS);
    /* a = D, built 9 digits at a time */
    uint32_t chunk = 0;
    unsigned cl = 0;
    int taken = 0;
    bool started = false;
    for (size_t i = 0; i < n && taken < MAX_SIG_DIGITS; i++) {
        char c = s[i];
        if (c == 'e' || c == 'E') break;
        if (c < '0' || c > '9') continue;
        if (!started && c == '0') continue;
        started = true;
        chunk = chunk * 10 + (uint32_t)(c - '0');
        taken++;
        if (++cl == 9) {
            big_mul_u32(&a, 1000000000u);
            if (a.n == 0) big_set_u64(&a, chunk);
            else big_add_u32(&a, chunk);
            chunk = 0;
            cl = 0;
        }
    }
    if (cl) {
        static const uint32_t p10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
        big_mul_u32(&a, p10[cl]);
        if (a.n == 0) big_set_u64(&a, chunk);
        else big_add_u32(&a, chunk);
    }
    big_set_u64(&b, 1);
    if (E >= 0) big_mul_pow10(&a, (unsigned)E);
    else big_mul_pow10(&b, (unsigned)-E);
    /* Scale so that the quotient has 63 or 64 bits. */
    int sh = 63 - ((int)big_bitlen(&a) - (int)big_bitlen(&b));
    if (sh > 0) big_shl(&a, (unsigned)sh);
    else if (sh < 0) big_shl(&b, (unsigned)-sh);
    big_shl(&b, 63);
    uint64_t q = 0;
    for (int i = 63; i >= 0; i--) {
        if (big_cmp(&a, &b) >= 0) {
            big_sub(&a, &b);
            q |= 1ULL << i;
        }
        big_shr1(&b);
    }
    if (a.n) sticky = true;
    return round_to_bits(q, -sh, sticky);
}

evolu_err evolu_js_number_parse(const char *s, size_t n, double *out) {
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    /* grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (i >= n || s[i] < '0' || s[i] > '9') return EVOLU_E_JSON;
    uint64_t mant = 0;       /* first 19 significant digits */
    int64_t nd = 0;          /* significant digits seen */
    int64_t point = 0;       /* decimal exponent of the point relative to the first significant digit */
    bool nonzero_tail = false;
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd < 19) mant = mant * 10 + (uint64_t)(s[i] - '0');
            else if (s[i] != '0' && nd >= MAX_SIG_DIGITS) nonzero_tail = true;
            nd++;
            point++;
            i++;
        }
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return EVOLU_E_JSON;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd == 0 && s[i] == '0') {
                point--;
            } else {
                if (nd < 19) mant = mant * 10 + (uint64_t)(s[i] - '0');
                else if (s[i] != '0' && nd >= MAX_SIG_DIGITS) nonzero_tail = true;
                nd++;
            }
            i++;
        }
    }
    int64_t exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i >= n || s[i] < '0' || s[i] > '9') return EVOLU_E_JSON;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < 1000000000) exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (eneg) exp = -exp;
    }
    if (i != n) return EVOLU_E_JSON;

    uint64_t bits;
    int64_t mag = point + exp; /* value in [10^(mag-1), 10^mag) */
    if (nd == 0 || mag <= -324) {
        bits = 0;
    } else if (mag > 310) {
        bits = 0x7ffULL << 52;
    } else {
        int64_t kept = nd < MAX_SIG_DIGITS ? nd : MAX_SIG_DIGITS;
        int64_t E = mag - kept; /* value = D * 10^E */
        bits = 0;
        bool done = false;
#if FLT_EVAL_METHOD == 0
        /* Clinger: both operands exact, one IEEE operation rounds correctly. */
        if (nd <= 19 && mant <= (1ULL << 53) && E >= -22 && E <= 22) {
            static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                           1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
            double m = (double)mant;
            bits = dbits(E >= 0 ? m * p10[E] : m / p10[-E]);
            done = true;
        }
#endif
        if (!done) {
            /* the digit string without sign; parse_slow re-reads the digits */
            const char *ds = s + (neg ? 1 : 0);
            size_t dn = n - (neg ? 1 : 0);
            bits = parse_slow(ds, dn, E, nonzero_tail);
        }
    }
    if (neg) bits |= 1ULL << 63;
    *out = bitsd(bits);
    return EVOLU_OK;
}
