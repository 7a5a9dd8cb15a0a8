/*
 * bench_write.c - write throughput of the engine: upserts of P points of
 * DIM dimensions each, W writes in all, into a fresh collection.
 *
 *   sync:     one collection_upsert after another, as writers queued on
 *             the engine's mutex are served (each write its own commit);
 *   group G:  the writes in groups of G through collection_write_group,
 *             as the server's writer thread drains a queue of G writers
 *             (one commit per group), then collection_db_flush.
 *
 * Prints writes/s and points/s. The directory should be on the disk the
 * server would use: the point is the cost of fsync.
 *
 * Build and run (from the repository root):
 *   make bench-write                      (the four cases below, in a fresh
 *                                          directory under $TMPDIR each)
 *   build/release/tools/bench_write DIR sync|G POINTS_PER_WRITE WRITES [DIM]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "store/collection.h"

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
    if (argc < 5) {
        fprintf(stderr, "usage: bench_write DIR sync|GROUP POINTS_PER_WRITE WRITES [DIM]\n");
        return 2;
    }
    const char *dir = argv[1];
    int group = strcmp(argv[2], "sync") ? atoi(argv[2]) : 0;
    size_t per = (size_t)atol(argv[3]), writes = (size_t)atol(argv[4]);
    size_t dim = argc > 5 ? (size_t)atol(argv[5]) : 512;
    log_set_level(LOG_WARN);
    Db *db;
    if (collection_db_open(dir, NULL, &db)) return 1;
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = (uint32_t)dim;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    if (collection_create(db, "bench", &cfg, err, sizeof err)) {
        fprintf(stderr, "create: %s (use an empty directory)\n", err);
        return 1;
    }
    /* Every write's points prepared up front, so only writing is timed. */
    size_t n = per * writes;
    float *vecs = xmalloc(n * dim * sizeof *vecs);
    for (size_t i = 0; i < n * dim; i++) vecs[i] = rnd();
    CollectionVectorIn *vin = xmalloc(n * sizeof *vin);
    CollectionPointIn *pts = xmalloc(n * sizeof *pts);
    for (size_t i = 0; i < n; i++) {
        vin[i] = (CollectionVectorIn){ NULL, vecs + i * dim, dim };
        pts[i] = (CollectionPointIn){ point_id_num(i), NULL, &vin[i], 1 };
    }
    double t0 = now_seconds();
    if (!group) {
        for (size_t w = 0; w < writes; w++)
            if (collection_upsert(db, "bench", pts + w * per, per, err, sizeof err)) {
                fprintf(stderr, "upsert: %s\n", err);
                return 1;
            }
    } else {
        CollectionOp *ops = xcalloc(writes, sizeof *ops);
        CollectionWrite *ws = xcalloc(writes, sizeof *ws);
        CollectionWrite **wp = xmalloc(writes * sizeof *wp);
        for (size_t w = 0; w < writes; w++) {
            ops[w] = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = pts + w * per,
                                     .n_points = per };
            ws[w] = (CollectionWrite){ .collection = "bench", .ops = &ops[w], .n_ops = 1 };
            wp[w] = &ws[w];
        }
        for (size_t w = 0; w < writes; w += (size_t)group) {
            size_t g = MIN((size_t)group, writes - w);
            if (collection_write_group(db, wp + w, g, NULL)) return 1;
            for (size_t i = w; i < w + g; i++)
                if (ws[i].status) {
                    fprintf(stderr, "write %zu: %s\n", i, ws[i].err);
                    return 1;
                }
        }
        collection_db_flush(db);
        free(ops);
        free(ws);
        free(wp);
    }
    double dt = now_seconds() - t0;
    printf("%s, %zu points x %zu-d per write, %zu writes: %.1f writes/s, %.0f points/s (%.2f s)\n",
           group ? argv[2] : "sync", per, dim, writes, (double)writes / dt, (double)n / dt, dt);
    collection_db_close(db);
    free(pts);
    free(vin);
    free(vecs);
    return 0;
}
