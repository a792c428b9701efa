/* Runs a fuzz target over saved inputs without libFuzzer, so any C compiler (with or without
 * sanitizers) can check the corpora in CI:
 *     replay_TARGET FILE_OR_FOLDER...
 * Every file is one input (a folder: every file in it, sorted, not recursive). A failed invariant
 * or a sanitizer report ends the process; the last "replay: FILE" line on stderr names the input. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path, int verbose)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    FUZZ_CHECK(data != NULL);
    size_t got = size > 0 ? fread(data, 1, (size_t)size, f) : 0;
    fclose(f);
    if (got != (size_t)(size > 0 ? size : 0)) {
        fprintf(stderr, "%s: short read\n", path);
        free(data);
        return -1;
    }
    if (verbose) {
        fprintf(stderr, "replay: %s\n", path);
    }
    LLVMFuzzerTestOneInput(data, got); /* exactly `got` bytes on the heap: ASan sees any over-read */
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv)
{
    int verbose = getenv("REPLAY_VERBOSE") != NULL, count = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += run_file(argv[i], verbose) != 0;
            count++;
            continue;
        }
        struct dirent **entries;
        int n = scandir(argv[i], &entries, NULL, by_name);
        for (int j = 0; j < n; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], entries[j]->d_name);
            if (entries[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                errors += run_file(path, verbose) != 0;
                count++;
            }
            free(entries[j]);
        }
        free(n >= 0 ? entries : NULL);
    }
    printf("replayed %d inputs, %d unreadable\n", count, errors);
    return errors ? 1 : 0;
}
