/*
 * proxy_queue.c - the proxy's durable store-and-forward queue (see
 * proxy_internal.h): one file per message so a message is either wholly
 * there or not at all, and removing an answered one is one unlink.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evolu/bytes.h"
#include "evolu/protocol.h"
#include "proxy_internal.h"

struct proxy_queue {
    char *dir;
    int dirfd;
    proxy_qentry *e;
    size_t n, cap, max_msgs;
    uint64_t bytes, max_bytes, next_seq;
};

static void name_of(char out[32], uint64_t seq, const char *ext) {
    snprintf(out, 32, "%016llx.%s", (unsigned long long)seq, ext);
}

static int cmp_seq(const void *a, const void *b) {
    const proxy_qentry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static evolu_err grow(proxy_queue *q) {
    if (q->n < q->cap) return EVOLU_OK;
    size_t cap = q->cap ? q->cap * 2 : 64;
    proxy_qentry *e = realloc(q->e, cap * sizeof *e);
    if (!e) return EVOLU_E_NOMEM;
    q->e = e;
    q->cap = cap;
    return EVOLU_OK;
}

/* The owner id from a message's header (version varint, then 16 bytes). */
static bool owner_of(const uint8_t *p, size_t n, uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    evolu_reader r = evolu_reader_make(p, n);
    evolu_header h;
    evolu_err e = evolu_header_decode(&r, &h);
    if (e && e != EVOLU_E_VERSION && e != EVOLU_E_MESSAGE_TYPE) return false;
    memcpy(owner, h.owner_id, EVOLU_OWNER_ID_BYTES);
    return true;
}

static evolu_err load(proxy_queue *q) {
    DIR *d = opendir(q->dir);
    if (!d) return EVOLU_E_STORAGE;
    struct dirent *de;
    evolu_err e = EVOLU_OK;
    while (!e && (de = readdir(d))) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len != 20 || nm[16] != '.') continue;
        char *end;
        unsigned long long seq = strtoull(nm, &end, 16);
        if (end != nm + 16) continue;
        if (!strcmp(nm + 17, "tmp")) { /* a push that never completed */
            unlinkat(q->dirfd, nm, 0);
            continue;
        }
        if (strcmp(nm + 17, "msg")) continue;
        int fd = openat(q->dirfd, nm, O_RDONLY);
        if (fd < 0) {
            e = EVOLU_E_STORAGE;
            break;
        }
        struct stat st;
        uint8_t head[EVOLU_HEADER_MAX_BYTES];
        ssize_t k = fstat(fd, &st) == 0 ? pread(fd, head, sizeof head, 0) : -1;
        close(fd);
        proxy_qentry en;
        memset(&en, 0, sizeof en);
        if (k <= 0 || st.st_size > (off_t)UINT32_MAX || !owner_of(head, (size_t)k, en.owner)) {
            /* not a message we wrote: keep it aside, do not forward it */
            char bad[32];
            snprintf(bad, sizeof bad, "%.20s.bad", nm);
            renameat(q->dirfd, nm, q->dirfd, bad);
            continue;
        }
        en.seq = seq;
        en.size = (uint32_t)st.st_size;
        if ((e = grow(q))) break;
        q->e[q->n++] = en;
        q->bytes += en.size;
        if (seq >= q->next_seq) q->next_seq = seq + 1;
    }
    closedir(d);
    if (!e && q->n > 1) qsort(q->e, q->n, sizeof *q->e, cmp_seq);
    return e;
}

evolu_err proxy_queue_open(const char *dir, size_t max_msgs, uint64_t max_bytes,
                           proxy_queue **out) {
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return EVOLU_E_STORAGE;
    proxy_queue *q = calloc(1, sizeof *q);
    if (!q) return EVOLU_E_NOMEM;
    q->dir = strdup(dir);
    q->dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    q->max_msgs = max_msgs;
    q->max_bytes = max_bytes;
    q->next_seq = 1;
    evolu_err e = !q->dir ? EVOLU_E_NOMEM : q->dirfd < 0 ? EVOLU_E_STORAGE : load(q);
    if (e) {
        proxy_queue_close(q);
        return e;
    }
    *out = q;
    return EVOLU_OK;
}

void proxy_queue_close(proxy_queue *q) {
    if (!q) return;
    if (q->dirfd >= 0) close(q->dirfd);
    free(q->dir);
    free(q->e);
    free(q);
}

bool proxy_queue_full(const proxy_queue *q) {
    return q->n >= q->max_msgs || q->bytes >= q->max_bytes;
}
size_t proxy_queue_count(const proxy_queue *q) { return q->n; }
uint64_t proxy_queue_bytes(const proxy_queue *q) { return q->bytes; }

proxy_qentry *proxy_queue_at(proxy_queue *q, size_t i) { return i < q->n ? &q->e[i] : NULL; }

proxy_qentry *proxy_queue_next(proxy_queue *q, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                               uint64_t after) {
    for (size_t i = 0; i < q->n; i++)
        if (q->e[i].seq > after && !memcmp(q->e[i].owner, owner, EVOLU_OWNER_ID_BYTES))
            return &q->e[i];
    return NULL;
}

static evolu_err write_file(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return EVOLU_E_STORAGE;
        p += k;
        n -= (size_t)k;
    }
    return fsync(fd) == 0 ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err proxy_queue_push(proxy_queue *q, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                           const uint8_t *p, size_t n) {
    /* the limits are enforced by the caller withholding link credit, so a
     * few messages already on the line may still overshoot them; only far
     * beyond (twice the limits) is a push refused */
    if (q->n >= 2 * q->max_msgs || q->bytes + n > 2 * q->max_bytes || n > UINT32_MAX)
        return EVOLU_E_CAPACITY;
    evolu_err e = grow(q);
    if (e) return e;
    uint64_t seq = q->next_seq++;
    char tmp[32], msg[32];
    name_of(tmp, seq, "tmp");
    name_of(msg, seq, "msg");
    int fd = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return EVOLU_E_STORAGE;
    e = write_file(fd, p, n);
    if (close(fd) != 0 && !e) e = EVOLU_E_STORAGE;
    if (!e && renameat(q->dirfd, tmp, q->dirfd, msg) != 0) e = EVOLU_E_STORAGE;
    if (!e && fsync(q->dirfd) != 0) e = EVOLU_E_STORAGE; /* the rename itself */
    if (e) {
        unlinkat(q->dirfd, tmp, 0);
        return e;
    }
    proxy_qentry *en = &q->e[q->n++];
    memset(en, 0, sizeof *en);
    en->seq = seq;
    en->size = (uint32_t)n;
    memcpy(en->owner, owner, EVOLU_OWNER_ID_BYTES);
    q->bytes += n;
    return EVOLU_OK;
}

evolu_err proxy_queue_read(proxy_queue *q, const proxy_qentry *e, uint8_t *buf) {
    char msg[32];
    name_of(msg, e->seq, "msg");
    int fd = openat(q->dirfd, msg, O_RDONLY);
    if (fd < 0) return EVOLU_E_STORAGE;
    size_t got = 0;
    while (got < e->size) {
        ssize_t k = pread(fd, buf + got, e->size - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    return got == e->size ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err proxy_queue_remove(proxy_queue *q, uint64_t seq) {
    for (size_t i = 0; i < q->n; i++) {
        if (q->e[i].seq != seq) continue;
        q->bytes -= q->e[i].size;
        memmove(&q->e[i], &q->e[i + 1], (q->n - i - 1) * sizeof *q->e);
        q->n--;
        char msg[32];
        name_of(msg, seq, "msg");
        /* not fsynced: if the unlink is lost in a crash the message is sent
         * again, which the relay answers the same way (writes are idempotent) */
        return unlinkat(q->dirfd, msg, 0) == 0 ? EVOLU_OK : EVOLU_E_STORAGE;
    }
    return EVOLU_E_ARG;
}
