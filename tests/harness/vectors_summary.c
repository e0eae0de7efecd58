/* vectors_summary.c - adds up the per-program vector counts by vector file and
 * prints one line per file. Fails if any vector failed or no counts exist. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define MAX_FILES 64

struct total {
    char file[256];
    unsigned long checked, failed, skipped;
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: vectors_summary COUNTS_DIR\n");
        return 2;
    }
    struct total t[MAX_FILES];
    int nt = 0;
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".counts")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char file[256];
        unsigned long c, fl, s;
        if (fscanf(f, "%255s %lu %lu %lu", file, &c, &fl, &s) == 4) {
            int i;
            for (i = 0; i < nt && strcmp(t[i].file, file); i++) {}
            if (i == nt && nt < MAX_FILES) {
                snprintf(t[nt].file, sizeof t[nt].file, "%s", file);
                t[nt].checked = t[nt].failed = t[nt].skipped = 0;
                nt++;
            }
            if (i < nt) {
                t[i].checked += c;
                t[i].failed += fl;
                t[i].skipped += s;
            }
        }
        fclose(f);
    }
    closedir(d);
    unsigned long failed = 0;
    printf("Vector files (checked / failed / skipped):\n");
    for (int i = 0; i < nt; i++) {
        printf("  %-28s %6lu checked %4lu failed %4lu skipped\n", t[i].file, t[i].checked,
               t[i].failed, t[i].skipped);
        failed += t[i].failed;
    }
    if (nt == 0) {
        printf("no vector counts found\n");
        return 1;
    }
    return failed ? 1 : 0;
}
