/* padme.c - PADMÉ padded length (spec 5.4).
 *
 * @evolu/common computes this with JS 32-bit integer operators (Math.clz32,
 * <<, &, ~). Inside the range where those do not overflow the result is the
 * plain PADMÉ formula; outside it (padded length >= 2^31) the TypeScript code
 * throws, so we return 0 there (see evolu/dbchange.h). The arithmetic is done
 * in 64 bits so a 32-bit size_t (the device) cannot wrap either. */
#include "evolu/dbchange.h"

#include <stdint.h>

/* Index of the highest set bit of v (v > 0). */
static unsigned highest_bit(uint64_t v) {
    unsigned e = 0;
    while (v >>= 1) e++;
    return e;
}

size_t evolu_padme(size_t len) {
    if (len == 0) return 0;
    uint64_t l = (uint64_t)len;
    /* TS truncates to 32 bits and later takes the result as a signed int32:
     * any length >= 2^31 gives a negative or smaller-than-length result. */
    if (l >= ((uint64_t)1 << 31)) return 0;
    unsigned e = highest_bit(l);                 /* floor(log2(L)) */
    unsigned s = e ? highest_bit(e) + 1 : 0;     /* bit length of e */
    unsigned z = e > s ? e - s : 0;
    uint64_t mask = ((uint64_t)1 << z) - 1;
    uint64_t padded = (l + mask) & ~mask;
    if (padded >= ((uint64_t)1 << 31)) return 0; /* int32 overflow in TS */
    return (size_t)padded;
}
