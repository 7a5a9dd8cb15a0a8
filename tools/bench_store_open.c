/*
 * bench_store_open.c - how long a data directory takes to open.
 *
 * Fills DIR (once) with a collection "bench" of N clustered unit vectors
 * of DIM dimensions plus a small payload, through the normal upsert path
 * (durable batches, graph saved in LMDB), then closes and reopens it
 * several times and prints the open time: the graph is read back, not
 * rebuilt, so this is what a restarting server costs. Warm page cache
 * (the file was just written or read); a cold start adds reading the file
 * once from disk.
 *
 * Build and run (from the repository root, after `make`):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -I/usr/include/yajl -pthread \
 *      -o build/bench_store_open tools/bench_store_open.c build/release/libvitrine.a \
 *      -llmdb -lyajl -lm
 *   nice -n 10 build/bench_store_open /tmp/vitrine_bench [N] [DIM] [EF_CONSTRUCTION]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/collection.h"
#include "base/log.h"
#include "base/util.h"

#define BENCH_BATCH 1000

static uint64_t rng = 0x1234567;
static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (2.0 / 9007199254740992.0)) - 1.0f;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store_open DIR [N] [DIM] [EF_CONSTRUCTION]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t dim = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    int efc = argc > 4 ? atoi(argv[4]) : 100;
    log_set_level(LOG_WARN);
    Db *db;
    char err[256];
    if (collection_db_open(dir, NULL, &db)) return 1;
    CollectionInfo info;
    if (collection_info(db, "bench", &info) != 0) {
        CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = efc };
        cfg.vectors[0].size = (uint32_t)dim;
        cfg.vectors[0].distance = COLLECTION_COSINE;
        if (collection_create(db, "bench", &cfg, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        float *centers = xmalloc(32 * dim * sizeof *centers);
        for (size_t i = 0; i < 32 * dim; i++) centers[i] = rnd();
        float *vecs = xmalloc(BENCH_BATCH * dim * sizeof *vecs);
        double t0 = now_seconds();
        for (size_t s = 0; s < n; s += BENCH_BATCH) {
            size_t m = MIN((size_t)BENCH_BATCH, n - s);
            Arena a;
            arena_init(&a, 0);
            CollectionPointIn *p = arena_alloc(&a, m * sizeof *p);
            CollectionVectorIn *v = arena_alloc(&a, m * sizeof *v);
            for (size_t i = 0; i < m; i++) {
                const float *c = centers + (rng % 32) * dim;
                for (size_t d = 0; d < dim; d++) vecs[i * dim + d] = c[d] + 0.7f * rnd();
                char text[64];
                snprintf(text, sizeof text, "{\"sku\":%zu,\"cat\":%zu}", s + i, (s + i) % 13);
                JsonValue *pl;
                json_parse(&a, text, strlen(text), &pl, NULL, 0);
                v[i] = (CollectionVectorIn){ NULL, vecs + i * dim, dim };
                p[i] = (CollectionPointIn){ point_id_num(s + i), pl, &v[i], 1 };
            }
            if (collection_upsert(db, "bench", p, m, err, sizeof err)) {
                fprintf(stderr, "upsert: %s\n", err);
                return 1;
            }
            arena_free(&a);
            if ((s / BENCH_BATCH) % 10 == 9)
                fprintf(stderr, "  %zu points, %.0f points/s\n", s + m, (double)(s + m) / (now_seconds() - t0));
        }
        printf("build: %zu points of %zu-d in %.1f s (%.0f points/s)\n", n, dim,
               now_seconds() - t0, (double)n / (now_seconds() - t0));
        free(vecs);
        free(centers);
    }
    collection_db_close(db);

    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    if (stat(path, &st) == 0) printf("data.mdb: %.1f MB\n", (double)st.st_size / 1e6);
    for (int r = 0; r < 3; r++) {
        double t0 = now_seconds();
        if (collection_db_open(dir, NULL, &db)) return 1;
        double dt = now_seconds() - t0;
        collection_info(db, "bench", &info);
        printf("open: %.3f s for %llu points (index memory %.1f MB)\n", dt,
               (unsigned long long)info.points_count, (double)info.memory_bytes / 1e6);
        collection_db_close(db);
    }
    return 0;
}
