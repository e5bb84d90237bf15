/*
 * driver.c: replay fuzz inputs without libFuzzer, for any compiler: runs
 * LLVMFuzzerTestOneInput() once on every file named on the command line and on every
 * regular file in the directories named there (in name order, not recursive). It links
 * with any target: fuzz_NAME_driver is this file plus fuzz_NAME.c (fuzz/CMakeLists.txt).
 *
 *   fuzz_NAME_driver [-v] DIR|FILE...
 *
 * A failing input abort()s inside the target, which ends the run with SIGABRT; the driver
 * prints each input's name first (on stderr, with -v) so the culprit is easy to find.
 * Exit status: 0 when every input ran; 1 when an input could not be read or is larger
 * than INPUT_MAX; 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Inputs are small by design; anything bigger is refused, not read. */
#define INPUT_MAX ((size_t)1 << 20)
#define PATH_MAX_LEN 4096

static int verbose;
static size_t ran, unreadable;

static void run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        unreadable++;
        return;
    }
    static uint8_t buf[INPUT_MAX + 1];
    size_t n = fread(buf, 1, sizeof buf, fp);
    int failed = ferror(fp);
    fclose(fp);
    if (failed || n > INPUT_MAX) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path,
                failed ? "read error" : "larger than 1 MiB, refused");
        unreadable++;
        return;
    }
    if (verbose) fprintf(stderr, "fuzz driver: running %s (%zu bytes)\n", path, n);
    /* A private copy of exactly n bytes, so reading past the input is caught by ASan. */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        fprintf(stderr, "fuzz driver: %s: out of memory\n", path);
        unreadable++;
        return;
    }
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    ran++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", dir, strerror(errno));
        unreadable++;
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        struct stat st;
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof path) {
            fprintf(stderr, "fuzz driver: %s/%s: path too long\n", dir, names[i]->d_name);
            unreadable++;
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            run_file(path);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz driver: %s: %s\n", argv[i], strerror(errno));
            unreadable++;
        } else if (S_ISDIR(st.st_mode)) {
            run_dir(argv[i]);
        } else {
            run_file(argv[i]);
        }
    }
    printf("%zu inputs, 0 failures, %zu unreadable\n", ran, unreadable);
    return unreadable > 0 || ran == 0 ? 1 : 0;
}
