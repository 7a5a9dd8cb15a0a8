/*
 * fuzz_replay.h - the replay main() shared by the fuzz targets
 * (tests/fuzz_<name>.c).
 *
 * A target defines FUZZ_NAME ("json") and LLVMFuzzerTestOneInput, then
 * includes this header last. Built with -DFUZZING (`make fuzz`), libFuzzer
 * supplies main() and this header adds nothing. Built without it (`make
 * test`, also under the sanitizers), main() runs every file or directory
 * named on the command line, by default the committed corpus
 * tests/corpus/<name> (relative to the repository root, where tests/run.sh
 * runs it), through the same checks: an input that once broke a parser
 * fails CI if the bug comes back. A target may define fuzz_init(), run
 * once before the first input (LLVMFuzzerInitialize under libFuzzer).
 */
#ifndef VITRINE_FUZZ_REPLAY_H
#define VITRINE_FUZZ_REPLAY_H

#ifndef FUZZING
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

/* The input being replayed, named when a check or a sanitizer kills us. */
static const char *replay_path = "";

/* Defined by the sanitizer runtimes (ASan, UBSan, TSan), absent otherwise:
 * the weak reference is NULL in a plain build. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void replay_name_input(void)
{
    fprintf(stderr, "fuzz_%s: the input was %s\n", FUZZ_NAME, replay_path);
}

static void replay_on_abort(int sig)
{
    (void)sig;
    /* Not async-signal-safe in general, but we are dying anyway and the
     * name is what makes the report useful. */
    replay_name_input();
    signal(SIGABRT, SIG_DFL);
    abort();
}

static int replay_file(const char *path)
{
    char *buf;
    size_t len;
    if (file_read_all(path, 64u << 20, &buf, &len) != 0) {
        fprintf(stderr, "fuzz_%s: cannot read %s\n", FUZZ_NAME, path);
        return 1;
    }
    replay_path = path;
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    static char *corpus[] = { NULL, "tests/corpus/" FUZZ_NAME };
    if (argc < 2) {
        argc = 2;
        argv = corpus;
    }
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(replay_name_input);
    signal(SIGABRT, replay_on_abort);
#ifdef FUZZ_HAS_INIT
    fuzz_init();
#endif
    int failed = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            if (!d) {
                fprintf(stderr, "fuzz_%s: cannot open %s\n", FUZZ_NAME, argv[i]);
                failed++;
                continue;
            }
            struct dirent *e;
            while ((e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                failed += replay_file(path);
                n++;
            }
            closedir(d);
        } else {
            failed += replay_file(argv[i]);
            n++;
        }
    }
    printf("fuzz_%s: %d inputs replayed, %d unreadable\n", FUZZ_NAME, n, failed);
    /* An empty corpus proves nothing: say so rather than pass. */
    if (n == 0) printf("fuzz_%s: no inputs found\n", FUZZ_NAME);
    return failed || n == 0 ? 1 : 0;
}
#elif defined(FUZZ_HAS_INIT)
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}
#endif

#endif
