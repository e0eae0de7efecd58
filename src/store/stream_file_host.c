/* stream_file_host.c - the stream store's host side as files (see
 * evolu/stream_file_host.h). */
#define _POSIX_C_SOURCE 200809L
#include "evolu/stream_file_host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct evolu_stream_file_host {
    char *dir;
    FILE *index;   /* read handle of the committed index, NULL if none */
    FILE *shadow;  /* index.new while writing */
};

/* dir + "/" + name into a fresh string. */
static char *path_of(const evolu_stream_file_host *h, const char *name) {
    size_t a = strlen(h->dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, h->dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static char *blob_path(const evolu_stream_file_host *h, const uint8_t ts[16], const char *ext) {
    static const char hex[] = "0123456789abcdef";
    char name[6 + 32 + 8];
    memcpy(name, "blobs/", 6);
    for (int i = 0; i < 16; i++) {
        name[6 + 2 * i] = hex[ts[i] >> 4];
        name[6 + 2 * i + 1] = hex[ts[i] & 15];
    }
    snprintf(name + 38, 8, "%s", ext);
    return path_of(h, name);
}

/* Writes and flushes all of p to f, then fsync. */
static evolu_err write_all(FILE *f, const uint8_t *p, size_t n, bool sync) {
    if (n && fwrite(p, 1, n, f) != n) return EVOLU_E_STORAGE;
    if (fflush(f) != 0) return EVOLU_E_STORAGE;
    if (sync && fsync(fileno(f)) != 0) return EVOLU_E_STORAGE;
    return EVOLU_OK;
}

/* Makes a rename in dir durable. */
static evolu_err sync_dir(const evolu_stream_file_host *h, const char *sub) {
    char *p = sub ? path_of(h, sub) : NULL;
    if (sub && !p) return EVOLU_E_NOMEM;
    int fd = open(p ? p : h->dir, O_RDONLY);
    free(p);
    if (fd < 0) return EVOLU_E_STORAGE;
    int r = fsync(fd);
    close(fd);
    return r == 0 ? EVOLU_OK : EVOLU_E_STORAGE;
}

static evolu_err reopen_index(evolu_stream_file_host *h) {
    if (h->index) fclose(h->index);
    h->index = NULL;
    char *p = path_of(h, "index");
    if (!p) return EVOLU_E_NOMEM;
    h->index = fopen(p, "rb");
    int err = errno;
    free(p);
    if (!h->index && err != ENOENT) return EVOLU_E_STORAGE;
    return EVOLU_OK;
}

static evolu_err fh_index_size(void *ctx, uint64_t *len) {
    evolu_stream_file_host *h = ctx;
    *len = 0;
    if (!h->index) return EVOLU_OK;
    struct stat st;
    if (fstat(fileno(h->index), &st) != 0) return EVOLU_E_STORAGE;
    *len = (uint64_t)st.st_size;
    return EVOLU_OK;
}

static evolu_err fh_index_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    evolu_stream_file_host *h = ctx;
    if (!h->index || off > (uint64_t)LONG_MAX) return EVOLU_E_STORAGE;
    if (fseek(h->index, (long)off, SEEK_SET) != 0) return EVOLU_E_STORAGE;
    return fread(buf, 1, n, h->index) == n ? EVOLU_OK : EVOLU_E_STORAGE;
}

static void fh_abort(void *ctx) {
    evolu_stream_file_host *h = ctx;
    if (!h->shadow) return;
    fclose(h->shadow);
    h->shadow = NULL;
    char *p = path_of(h, "index.new");
    if (p) remove(p);
    free(p);
}

static evolu_err fh_begin(void *ctx) {
    evolu_stream_file_host *h = ctx;
    fh_abort(h);
    char *p = path_of(h, "index.new");
    if (!p) return EVOLU_E_NOMEM;
    h->shadow = fopen(p, "wb");
    free(p);
    return h->shadow ? EVOLU_OK : EVOLU_E_STORAGE;
}

static evolu_err fh_append(void *ctx, const uint8_t *p, size_t n) {
    evolu_stream_file_host *h = ctx;
    if (!h->shadow) return EVOLU_E_STATE;
    return n && fwrite(p, 1, n, h->shadow) != n ? EVOLU_E_STORAGE : EVOLU_OK;
}

static evolu_err fh_commit(void *ctx) {
    evolu_stream_file_host *h = ctx;
    if (!h->shadow) return EVOLU_E_STATE;
    evolu_err e = write_all(h->shadow, NULL, 0, true);
    fclose(h->shadow);
    h->shadow = NULL;
    char *from = path_of(h, "index.new"), *to = path_of(h, "index");
    if (!e && (!from || !to)) e = EVOLU_E_NOMEM;
    if (!e && rename(from, to) != 0) e = EVOLU_E_STORAGE;
    free(from);
    free(to);
    if (!e) e = sync_dir(h, NULL);
    if (e) return e;
    return reopen_index(h);
}

static evolu_err fh_blob_put(void *ctx, const uint8_t ts[16], const uint8_t *p, size_t n) {
    evolu_stream_file_host *h = ctx;
    char *tmp = blob_path(h, ts, ".tmp"), *dst = blob_path(h, ts, "");
    evolu_err e = tmp && dst ? EVOLU_OK : EVOLU_E_NOMEM;
    FILE *f = e ? NULL : fopen(tmp, "wb");
    if (!e && !f) e = EVOLU_E_STORAGE;
    if (!e) e = write_all(f, p, n, true);
    if (f && fclose(f) != 0 && !e) e = EVOLU_E_STORAGE;
    if (!e && rename(tmp, dst) != 0) e = EVOLU_E_STORAGE;
    if (!e) e = sync_dir(h, "blobs");
    if (e && tmp) remove(tmp);
    free(tmp);
    free(dst);
    return e;
}

static evolu_err fh_blob_size(void *ctx, const uint8_t ts[16], size_t *n) {
    evolu_stream_file_host *h = ctx;
    char *p = blob_path(h, ts, "");
    if (!p) return EVOLU_E_NOMEM;
    struct stat st;
    int r = stat(p, &st);
    int err = errno;
    free(p);
    if (r != 0) return err == ENOENT ? EVOLU_E_ARG : EVOLU_E_STORAGE;
    *n = (size_t)st.st_size;
    return EVOLU_OK;
}

static evolu_err fh_blob_read(void *ctx, const uint8_t ts[16], size_t off, uint8_t *buf,
                              size_t n) {
    evolu_stream_file_host *h = ctx;
    char *p = blob_path(h, ts, "");
    if (!p) return EVOLU_E_NOMEM;
    FILE *f = fopen(p, "rb");
    int err = errno;
    free(p);
    if (!f) return err == ENOENT ? EVOLU_E_ARG : EVOLU_E_STORAGE;
    evolu_err e = EVOLU_OK;
    if (off > (size_t)LONG_MAX || fseek(f, (long)off, SEEK_SET) != 0 ||
        (n && fread(buf, 1, n, f) != n))
        e = EVOLU_E_STORAGE;
    fclose(f);
    return e;
}

evolu_err evolu_stream_file_host_open(const char *dir, evolu_stream_file_host **out) {
    *out = NULL;
    evolu_stream_file_host *h = calloc(1, sizeof *h);
    if (!h) return EVOLU_E_NOMEM;
    size_t n = strlen(dir);
    h->dir = malloc(n + 1);
    if (!h->dir) {
        free(h);
        return EVOLU_E_NOMEM;
    }
    memcpy(h->dir, dir, n + 1);
    char *blobs = path_of(h, "blobs");
    evolu_err e = blobs ? EVOLU_OK : EVOLU_E_NOMEM;
    if (!e && ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
               (mkdir(blobs, 0700) != 0 && errno != EEXIST)))
        e = EVOLU_E_STORAGE;
    free(blobs);
    if (!e) e = reopen_index(h);
    if (e) {
        evolu_stream_file_host_close(h);
        return e;
    }
    *out = h;
    return EVOLU_OK;
}

void evolu_stream_file_host_close(evolu_stream_file_host *h) {
    if (!h) return;
    fh_abort(h);
    if (h->index) fclose(h->index);
    free(h->dir);
    free(h);
}

void evolu_stream_file_host_table(evolu_stream_file_host *h, evolu_stream_host *out) {
    out->ctx = h;
    out->index_size = fh_index_size;
    out->index_read = fh_index_read;
    out->write_begin = fh_begin;
    out->write_append = fh_append;
    out->write_commit = fh_commit;
    out->write_abort = fh_abort;
    out->blob_put = fh_blob_put;
    out->blob_size = fh_blob_size;
    out->blob_read = fh_blob_read;
}
