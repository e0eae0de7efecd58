/* date_iso.c - DateIso: Date.prototype.toISOString() text <-> epoch millis (spec 2.7.2).
 *
 * The calendar is the proleptic Gregorian one ECMAScript uses (year 0000 exists
 * and is a leap year). Day numbers are converted with the usual era arithmetic
 * (400-year eras of 146097 days, years starting in March so the leap day is the
 * last day of the year), in 64-bit integers: no libc time functions. */
#include <stddef.h>
#include <stdint.h>

#include "evolu/value.h"

#define MS_PER_DAY 86400000LL
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z (spec 2.7.2). */
#define DATE_ISO_MIN_MS (-62167219200000LL)
#define DATE_ISO_MAX_MS 253402300799999LL

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
    static const uint8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                      /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;                               /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;                         /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at s; false if any is not a digit. */
static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool evolu_date_iso_parse(const char *s, size_t n, int64_t *millis) {
    int y, mo, d, h, mi, se, ms;
    if (n != EVOLU_DATE_ISO_CHARS) return false;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || s[23] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
        !digits(s + 20, 3, &ms))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
    if (h > 23 || mi > 59 || se > 59) return false;
    *millis = days_from_civil(y, mo, d) * MS_PER_DAY +
              (int64_t)((h * 60 + mi) * 60 + se) * 1000 + ms;
    return true;
}

static void put_digits(char *out, int64_t v, int n) {
    for (int i = n; i-- > 0;) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

evolu_err evolu_date_iso_format(int64_t millis, char out[EVOLU_DATE_ISO_CHARS]) {
    if (millis < DATE_ISO_MIN_MS || millis > DATE_ISO_MAX_MS) return EVOLU_E_DATE;
    int64_t days = millis / MS_PER_DAY, ms = millis % MS_PER_DAY;
    if (ms < 0) { /* floor division */
        ms += MS_PER_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, ms / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, ms / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, ms / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, ms % 1000, 3);
    out[23] = 'Z';
    return EVOLU_OK;
}
