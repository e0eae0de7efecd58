/* vec.c - see vec.h. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#ifdef EVOLU_DEVICE
/* Cross-built for the Cortex-M33 (device/CMakeLists.txt): newlib has no
 * program_invocation_short_name, so the build passes the program's name, and the
 * port is the device's (libsodium compiled for the target, board randomness).
 * Files are read and written on the host through semihosting. */
#include "evolu/port_device.h"
#define program_invocation_short_name EVOLU_PROGRAM_NAME
#define evolu_port_sodium evolu_port_device
#else
#include "evolu/port_sodium.h"
#endif

static const char *g_file = "?";
static const char *g_section = "";
static unsigned long g_checked, g_failed, g_skipped;
static bool g_opened;

cJSON *vec_open(const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", EVOLU_VECTORS_DIR, file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open vector file %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    buf[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) {
        fprintf(stderr, "%s is not valid JSON\n", path);
        exit(2);
    }
    g_file = file;
    g_opened = true;
    return j;
}

void vec_section(const char *name) { g_section = name; }

bool vec_check(bool ok, const char *fmt, ...) {
    g_checked++;
    if (!ok) {
        g_failed++;
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "FAIL %s [%s]: ", g_file, g_section);
        vfprintf(stdout, fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
    return ok;
}

void vec_skip(const char *fmt, ...) {
    g_skipped++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "SKIP %s [%s]: ", g_file, g_section);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

int vec_finish(void) {
    if (!g_opened) {
        /* A unit test that reads no vector file: its checks are not vectors. */
        printf("CHECKS %s: %lu checked, %lu failed\n", program_invocation_short_name,
               g_checked, g_failed);
        if (!g_checked) printf("FAIL: nothing was checked\n");
        return g_failed || !g_checked ? 1 : 0;
    }
    printf("VECTORS %s: %lu checked, %lu failed, %lu skipped\n", g_file, g_checked, g_failed,
           g_skipped);
    /* One counts file per (vector file, program) so the summary can add them up. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s@%s.counts", EVOLU_VECTOR_COUNTS_DIR, g_file,
             program_invocation_short_name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s %lu %lu %lu\n", g_file, g_checked, g_failed, g_skipped);
        fclose(f);
    }
    if (g_failed) return 1;
    if (!g_checked) {
        printf("FAIL %s: nothing was checked\n", g_file);
        return 1;
    }
    return 0;
}

cJSON *vec_get(const cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        fprintf(stderr, "vector %s [%s]: missing member \"%s\"\n", g_file, g_section, key);
        exit(2);
    }
    return v;
}

const char *vec_str(const cJSON *obj, const char *key) {
    cJSON *v = vec_get(obj, key);
    if (!cJSON_IsString(v)) {
        fprintf(stderr, "vector %s [%s]: \"%s\" is not a string\n", g_file, g_section, key);
        exit(2);
    }
    return v->valuestring;
}

double vec_num(const cJSON *obj, const char *key) {
    cJSON *v = vec_get(obj, key);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "vector %s [%s]: \"%s\" is not a number\n", g_file, g_section, key);
        exit(2);
    }
    return v->valuedouble;
}

static const cJSON *pick(const cJSON *obj, const char *key, const char *version) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return NULL;
    if (cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "8.11.0") &&
        cJSON_GetObjectItemCaseSensitive(v, "8.0.0-next.5"))
        v = cJSON_GetObjectItemCaseSensitive(v, version);
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "(absent)")) return NULL;
    return v;
}

const cJSON *vec_v11(const cJSON *obj, const char *key) { return pick(obj, key, "8.11.0"); }
const cJSON *vec_next5(const cJSON *obj, const char *key) {
    return pick(obj, key, "8.0.0-next.5");
}

bool vec_versioned(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "8.11.0") &&
           cJSON_GetObjectItemCaseSensitive(v, "8.0.0-next.5");
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t vec_unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap) return (size_t)-1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return (size_t)-1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n / 2;
}

uint8_t *vec_unhex_alloc(const char *hex, size_t *n) {
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *p = malloc(cap);
    if (!p) exit(2);
    *n = vec_unhex(hex, p, cap);
    if (*n == (size_t)-1) {
        fprintf(stderr, "vector %s [%s]: bad hex\n", g_file, g_section);
        exit(2);
    }
    return p;
}

const char *vec_hex(const uint8_t *p, size_t n) {
    static char bufs[4][8192];
    static int which;
    char *b = bufs[which++ & 3];
    size_t max = (sizeof bufs[0] - 4) / 2;
    size_t m = n < max ? n : max;
    for (size_t i = 0; i < m; i++) sprintf(b + 2 * i, "%02x", p[i]);
    b[2 * m] = 0;
    if (m < n) strcat(b, "...");
    return b;
}

const evolu_port *vec_port(void) {
    const evolu_port *p = evolu_port_sodium();
    if (!p) {
        fprintf(stderr, "libsodium failed to initialise\n");
        exit(2);
    }
    return p;
}

static void fixed_random(void *ctx, uint8_t *buf, size_t len) {
    vec_fixed_port *fp = ctx;
    if (len > fp->random_len - fp->random_pos) {
        fprintf(stderr, "vector %s [%s]: fixed randomness exhausted\n", g_file, g_section);
        exit(2);
    }
    memcpy(buf, fp->random + fp->random_pos, len);
    fp->random_pos += len;
}

static int64_t fixed_now(void *ctx) { return ((vec_fixed_port *)ctx)->now; }

void vec_fixed_port_init(vec_fixed_port *fp, const uint8_t *random, size_t n, int64_t now) {
    fp->port = *vec_port();
    fp->port.ctx = fp;
    fp->port.random = fixed_random;
    fp->port.now_ms = fixed_now;
    fp->random = random;
    fp->random_len = n;
    fp->random_pos = 0;
    fp->now = now;
}
