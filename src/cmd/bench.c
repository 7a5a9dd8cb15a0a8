/*
 * cmd_bench.c - `vitrine bench <what>`: dispatches to the benchmark of one
 * subsystem (embed: the CLIP towers, src/cmd/embed.c; ann: the HNSW index,
 * src/cmd/bench_ann.c).
 *
 * Each benchmark is a function declared in cli.h; this file only picks one
 * by name, so adding a benchmark is one line here.
 */
#include "base/cli.h"
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine bench embed --weights DIR [--threads N] [--runs N]\n"
            "                           [--precision f32|bf16|int8]\n"
            "       vitrine bench ann --base B.fvecs --query Q.fvecs --gt G.ivecs [--m 16]\n"
            "                         [--ef-construction 200] [--ef 10,20,40,64,100] [--threads T]\n"
            "                         [--quantization int8 [--oversampling X] [--no-rescore]]\n"
            "                         [--filter-selectivity P[,P...] [--filter-plan PLAN[,PLAN...]]]\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "embed")) return cmd_bench_embed(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ann")) return cmd_bench_ann(argc - 1, argv + 1);
    fprintf(stderr, "vitrine bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
