/*
 * bench_payload_index.c - what a payload index buys: filtered count,
 * search and scroll on a keyword field at 1%, 10% and 50% selectivity,
 * without and with an index on it, and what the index costs at open
 * (contents are rebuilt from the points) and to create.
 *
 * Fills DIR (once) with a collection "bench" of N random unit vectors of
 * DIM dimensions and a payload of about 170 bytes per point:
 *   {"tier": "p1"|"p10"|"p50"|"rest", "name": ..., "price": ..., "tags": [...], ...}
 * where tier is "p1" on 1% of the points, "p10" on 10%, "p50" on 50%. Then
 * for each phase (no index, then a keyword index on tier) it prints, per
 * selectivity, the mean time of a count, of a search (limit 10, default
 * ef) and of a first scroll page (limit 10), and the open time.
 *
 * Build and run (from the repository root, after `make`):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -I/usr/include/yajl -pthread \
 *      -o build/bench_payload_index tools/bench_payload_index.c build/release/libvitrine.a \
 *      -luv -llmdb -lyajl -lm
 *   nice -n 10 build/bench_payload_index /tmp/vitrine_pindex [N] [DIM]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "store/collection.h"

#define BENCH_BATCH 1000
#define BENCH_SEARCHES 40
#define BENCH_COUNTS 5

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnext(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float rnd(void) { return (float)((rnext() >> 11) * (2.0 / 9007199254740992.0)) - 1.0f; }

static const char *tier_of(uint64_t i)
{
    uint64_t h = (i * 0x9e3779b97f4a7c15ULL) >> 40;
    unsigned r = (unsigned)(h % 100);
    return r < 1 ? "p1" : r < 11 ? "p10" : r < 61 ? "p50" : "rest";
}

static int fill(Db *db, size_t n, size_t dim)
{
    char err[256];
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    cfg.vectors[0].size = (uint32_t)dim;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    if (collection_create(db, "bench", &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    float *vecs = xmalloc(BENCH_BATCH * dim * sizeof *vecs);
    double t0 = now_seconds();
    for (size_t start = 0; start < n; start += BENCH_BATCH) {
        size_t m = MIN(BENCH_BATCH, n - start);
        Arena a;
        arena_init(&a, 0);
        CollectionPointIn pts[BENCH_BATCH];
        CollectionVectorIn vin[BENCH_BATCH];
        for (size_t i = 0; i < m; i++) {
            uint64_t id = start + i;
            for (size_t d = 0; d < dim; d++) vecs[i * dim + d] = rnd();
            char text[512];
            snprintf(text, sizeof text,
                     "{\"tier\":\"%s\",\"name\":\"product %llu\",\"price\":%u,\"brand\":\"b%u\","
                     "\"tags\":[\"t%u\",\"t%u\"],\"stock\":%u,\"color\":\"c%u\",\"size\":\"s%u\"}",
                     tier_of(id), (unsigned long long)id, (unsigned)(rnext() % 10000),
                     (unsigned)(rnext() % 300), (unsigned)(rnext() % 50), (unsigned)(rnext() % 50),
                     (unsigned)(rnext() % 100), (unsigned)(rnext() % 12), (unsigned)(rnext() % 6));
            JsonValue *p;
            if (json_parse(&a, text, strlen(text), &p, NULL, 0)) return 1;
            vin[i] = (CollectionVectorIn){ .data = vecs + i * dim, .dim = dim };
            pts[i] = (CollectionPointIn){ point_id_num(id), p, &vin[i], 1 };
        }
        if (collection_upsert(db, "bench", pts, m, err, sizeof err)) {
            fprintf(stderr, "upsert: %s\n", err);
            return 1;
        }
        arena_free(&a);
        if ((start / BENCH_BATCH) % 10 == 9)
            fprintf(stderr, "  %zu points, %.0f s\n", start + m, now_seconds() - t0);
    }
    free(vecs);
    return 0;
}

static double reopen(const char *dir, Db **db)
{
    collection_db_close(*db);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = now_seconds();
        if (collection_db_open(dir, NULL, db)) exit(1);
        double t = now_seconds() - t0;
        if (t < best) best = t;
        if (r < 2) collection_db_close(*db);
    }
    return best;
}

static void run_phase(Db *db, const char *label, size_t dim)
{
    static const char *const tiers[] = { "p1", "p10", "p50" };
    char err[256];
    float *q = xmalloc(dim * sizeof *q);
    for (size_t t = 0; t < 3; t++) {
        char fj[128];
        snprintf(fj, sizeof fj, "{\"must\":[{\"key\":\"tier\",\"match\":{\"value\":\"%s\"}}]}", tiers[t]);
        Arena fa;
        arena_init(&fa, 0);
        JsonValue *f;
        json_parse(&fa, fj, strlen(fj), &f, NULL, 0);
        uint64_t cnt = 0;
        double t0 = now_seconds();
        for (int i = 0; i < BENCH_COUNTS; i++) collection_count(db, "bench", f, &cnt, err, sizeof err);
        double count_ms = (now_seconds() - t0) * 1000 / BENCH_COUNTS;
        t0 = now_seconds();
        for (int i = 0; i < BENCH_SEARCHES; i++) {
            for (size_t d = 0; d < dim; d++) q[d] = rnd();
            Arena a;
            arena_init(&a, 0);
            CollectionSearch s;
            memset(&s, 0, sizeof s);
            s.vector = q;
            s.dim = dim;
            s.limit = 10;
            s.filter = f;
            CollectionResult r;
            if (collection_search(db, "bench", &s, &a, &r, err, sizeof err)) fprintf(stderr, "%s\n", err);
            arena_free(&a);
        }
        double search_ms = (now_seconds() - t0) * 1000 / BENCH_SEARCHES;
        t0 = now_seconds();
        for (int i = 0; i < BENCH_SEARCHES; i++) {
            Arena a;
            arena_init(&a, 0);
            CollectionScroll s;
            memset(&s, 0, sizeof s);
            s.limit = 10;
            s.filter = f;
            CollectionResult r;
            collection_scroll(db, "bench", &s, &a, &r, err, sizeof err);
            arena_free(&a);
        }
        double scroll_ms = (now_seconds() - t0) * 1000 / BENCH_SEARCHES;
        printf("%-9s tier=%-4s matches=%-6llu count %8.2f ms   search %7.2f ms   scroll %6.2f ms\n", label,
               tiers[t], (unsigned long long)cnt, count_ms, search_ms, scroll_ms);
        fflush(stdout);
        arena_free(&fa);
    }
    free(q);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_payload_index DIR [N] [DIM]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t dim = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    log_set_level(LOG_WARN);
    Db *db;
    char err[256];
    if (collection_db_open(dir, NULL, &db)) return 1;
    CollectionInfo info;
    if (collection_info(db, "bench", &info) != 0) {
        fprintf(stderr, "filling %s with %zu points of %zu dimensions\n", dir, n, dim);
        if (fill(db, n, dim)) return 1;
    }
#ifdef BENCH_BEFORE
    /* Built against a tree without payload indexes: the baseline. */
    double open_plain = reopen(dir, &db);
    run_phase(db, "before", dim);
    collection_info(db, "bench", &info);
    printf("points %llu; open %.3f s; memory %.1f MB\n", (unsigned long long)info.points_count, open_plain,
           info.memory_bytes / 1e6);
#else
    collection_index_delete(db, "bench", "tier", NULL);
    collection_index_delete(db, "bench", "price", NULL);
    double open_plain = reopen(dir, &db);
    collection_info(db, "bench", &info);
    size_t mem_plain = info.memory_bytes;
    run_phase(db, "no index", dim);
    CollectionIndexParams kw = { PAYLOAD_INDEX_KEYWORD, { 0, 1, 0, 0 }, "" };
    double t0 = now_seconds();
    if (collection_index_create(db, "bench", "tier", &kw, NULL, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double create_s = now_seconds() - t0;
    double open_kw = reopen(dir, &db);
    collection_info(db, "bench", &info);
    size_t mem_kw = info.memory_bytes;
    run_phase(db, "keyword", dim);
    CollectionIndexParams in = { PAYLOAD_INDEX_INTEGER, { 0, 1, 0, 0 }, "" };
    collection_index_create(db, "bench", "price", &in, NULL, err, sizeof err);
    double open_two = reopen(dir, &db);
    collection_info(db, "bench", &info);
    printf("points %llu; create keyword index %.3f s; open: no index %.3f s, keyword %.3f s, "
           "keyword + integer %.3f s; keyword index memory %.1f MB\n",
           (unsigned long long)info.points_count, create_s, open_plain, open_kw, open_two,
           (mem_kw - mem_plain) / 1e6);
    for (size_t i = 0; i < info.n_indexes; i++)
        printf("  index %s: %llu points\n", info.indexes[i].field, (unsigned long long)info.indexes[i].points);
#endif
    collection_db_close(db);
    return 0;
}
