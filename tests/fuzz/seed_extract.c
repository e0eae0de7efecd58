/* seed_extract.c - turns every string in the vector files into a fuzz seed:
 * hex strings become their bytes, other strings their UTF-8 text.
 * usage: seed_extract VECTORS_DIR OUT_DIR */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long count;
static const char *outdir;

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void emit(const unsigned char *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%06lu", outdir, count++);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static void walk(const cJSON *j) {
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        size_t n = strlen(s);
        if (n == 0 || n > 1 << 20) return;
        int hex = n % 2 == 0;
        for (size_t i = 0; hex && i < n; i++) hex = hexval((unsigned char)s[i]) >= 0;
        if (hex) {
            unsigned char *b = malloc(n / 2);
            if (!b) return;
            for (size_t i = 0; i < n / 2; i++)
                b[i] = (unsigned char)(hexval((unsigned char)s[2 * i]) << 4 |
                                       hexval((unsigned char)s[2 * i + 1]));
            emit(b, n / 2);
            free(b);
        } else {
            emit((const unsigned char *)s, n);
        }
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, j) walk(c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: seed_extract VECTORS_DIR OUT_DIR\n");
        return 2;
    }
    outdir = argv[2];
    mkdir(outdir, 0755);
    DIR *d = opendir(argv[1]);
    if (!d) return 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            cJSON *j = cJSON_Parse(buf);
            if (j) walk(j);
            cJSON_Delete(j);
        }
        free(buf);
        fclose(f);
    }
    closedir(d);
    printf("%lu seeds written to %s\n", count, outdir);
    return count ? 0 : 1;
}
