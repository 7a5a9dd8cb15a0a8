/*
 * main.c - the vitrine command line: dispatches to a subcommand.
 *
 * Every subcommand lives in its own file and has the signature
 * `int cmd_x(int argc, char **argv)` (see cli.h), so adding one is one line
 * in the table below.
 */
#include <stdio.h>
#include <string.h>

#include "base/cli.h"
#include "cmd/cmd.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    /* subcommands: one line each */
    { "serve", cmd_serve, "serve the HTTP API (Qdrant-compatible) on 127.0.0.1:6333" },
    { "index", cmd_index, "index a folder of product photos (and a .csv/.jsonl of product data)" },
    { "search", cmd_search, "search a collection by words, by a photo, or like an item" },
    { "classify", cmd_classify, "zero-shot classify a photo against labels" },
    { "export", cmd_export, "copy a collection into a Qdrant server" },
    { "embed", cmd_embed, "print CLIP embeddings of texts and image files as JSON lines" },
    { "bench", cmd_bench, "benchmarks: bench embed (CLIP towers), bench ann (HNSW recall/qps)" },
    { NULL, NULL, NULL },
};

static void usage(FILE *f)
{
    fprintf(f,
            "vitrine %s - search a catalogue by photo or by words\n"
            "\n"
            "usage: vitrine <command> [options]\n"
            "\n"
            "commands:\n",
            VITRINE_VERSION);
    for (const Command *c = commands; c->name; c++) fprintf(f, "  %-8s %s\n", c->name, c->summary);
    fprintf(f,
            "\n"
            "Run `vitrine <command> --help` for a command's options.\n"
            "  --help      show this text\n"
            "  --version   print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("vitrine %s\n", VITRINE_VERSION);
        return 0;
    }
    for (const Command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "vitrine: unknown command '%s' (see vitrine --help)\n", argv[1]);
    return 2;
}
