/*
 * bench_snapshot.c - collection snapshots of N points of DIM dimensions:
 * how long collection_snapshot and collection_recover take, and how the
 * file's size compares with the collection's data.
 *
 * Builds a collection (random unit vectors, a small payload each, HNSW
 * m=16, ef_construct=100: Qdrant's defaults) in a fresh directory, then:
 *   - snapshot: collection_snapshot to DIR/bench.snapshot;
 *   - recover into a new name, and in place over the (changed) original;
 *   - checks that the recovered graph's digest equals the original's.
 * Prints the times, MB/s, the file's size, the raw vector bytes (N * DIM
 * * 4) and the LMDB file's size after the build. A build of 100k x 512
 * takes minutes; pass --keep to reuse DIR's collection on a second run.
 *
 * Build and run (from the repository root):
 *   make bench-snapshot                 (100000 x 512 under $TMPDIR)
 *   build/release/tools/bench_snapshot DIR [N] [DIM] [--keep]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "store/collection.h"

static uint64_t rng = 0x5eed5eed;
static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (2.0 / 9007199254740992.0)) - 1.0f;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static int build(Db *db, size_t n, size_t dim)
{
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    cfg.vectors[0].size = (uint32_t)dim;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    if (collection_create(db, "bench", &cfg, err, sizeof err)) {
        fprintf(stderr, "create: %s (use an empty directory, or --keep)\n", err);
        return 1;
    }
    const size_t batch = 1000;
    float *vecs = xmalloc(batch * dim * sizeof *vecs);
    CollectionPointIn *pts = xcalloc(batch, sizeof *pts);
    CollectionVectorIn *vin = xcalloc(batch, sizeof *vin);
    double t0 = now_seconds();
    for (size_t at = 0; at < n; at += batch) {
        size_t k = MIN(batch, n - at);
        Arena a;
        arena_init(&a, 0);
        for (size_t i = 0; i < k; i++) {
            for (size_t d = 0; d < dim; d++) vecs[i * dim + d] = rnd();
            char text[64];
            snprintf(text, sizeof text, "{\"sku\":\"p%zu\",\"price\":%zu}", at + i, (at + i) % 97);
            JsonValue *pl;
            if (json_parse(&a, text, strlen(text), &pl, NULL, 0)) return 1;
            vin[i] = (CollectionVectorIn){ NULL, vecs + i * dim, dim, NULL };
            pts[i] = (CollectionPointIn){ point_id_num(at + i), pl, &vin[i], 1 };
        }
        if (collection_upsert(db, "bench", pts, k, err, sizeof err)) {
            fprintf(stderr, "upsert: %s\n", err);
            return 1;
        }
        arena_free(&a);
        if ((at / batch) % 10 == 9)
            fprintf(stderr, "  built %zu of %zu points (%.0f points/s)\n", at + k, n,
                    (double)(at + k) / (now_seconds() - t0));
    }
    collection_db_flush(db);
    printf("build: %zu points x %zu in %.1f s\n", n, dim, now_seconds() - t0);
    free(vecs);
    free(pts);
    free(vin);
    return 0;
}

int main(int argc, char **argv)
{
    int keep = 0, pos = 0;
    const char *args[3] = { NULL, "100000", "512" };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (pos < 3) args[pos++] = argv[i];
    }
    if (!args[0]) {
        fprintf(stderr, "usage: bench_snapshot DIR [N] [DIM] [--keep]\n");
        return 2;
    }
    const char *dir = args[0];
    size_t n = (size_t)atol(args[1]), dim = (size_t)atol(args[2]);
    log_set_level(LOG_WARN);
    Db *db;
    if (collection_db_open(dir, NULL, &db)) return 1;
    CollectionInfo ci;
    if (!keep || collection_info(db, "bench", &ci)) {
        if (build(db, n, dim)) return 1;
    } else {
        printf("build: reusing %llu points\n", (unsigned long long)ci.points_count);
    }
    collection_db_close(db); /* the LMDB file's size, settled */
    char mdb[4096];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
    uint64_t mdb_bytes = file_size(mdb);
    if (collection_db_open(dir, NULL, &db)) return 1;
    if (collection_info(db, "bench", &ci)) return 1;
    n = ci.points_count;
    dim = ci.config.vectors[0].size;
    printf("sha256: %s path\n", sha256_accelerated() ? "SHA-NI" : "portable");
    fflush(stdout);
    log_set_level(LOG_INFO); /* the engine's own timing lines, phase by phase */

    char file[4200], err[512];
    snprintf(file, sizeof file, "%s/bench.snapshot", dir);
    CollectionSnapshotInfo info;
    double t0 = now_seconds();
    if (collection_snapshot(db, "bench", file, &info, err, sizeof err)) {
        fprintf(stderr, "snapshot: %s\n", err);
        return 1;
    }
    double ts = now_seconds() - t0;
    uint64_t raw = (uint64_t)n * dim * sizeof(float);
    printf("snapshot: %.2f s, %.0f MB/s; file %.1f MB = %.2f x the raw vectors (%.1f MB); "
           "data.mdb %.1f MB (all collections, with free pages)\n",
           ts, (double)info.size / 1e6 / ts, (double)info.size / 1e6,
           (double)info.size / (double)raw, (double)raw / 1e6, (double)mdb_bytes / 1e6);

    uint64_t d0, d1, d2;
    collection_graph_digest(db, "bench", NULL, &d0);
    t0 = now_seconds();
    collection_delete(db, "copy");
    if (collection_recover(db, "copy", file, NULL, err, sizeof err)) {
        fprintf(stderr, "recover: %s\n", err);
        return 1;
    }
    double tr = now_seconds() - t0;
    collection_graph_digest(db, "copy", NULL, &d1);
    printf("recover into a new collection: %.2f s, %.0f MB/s; graph %s\n", tr,
           (double)info.size / 1e6 / tr, d0 == d1 ? "identical (digest)" : "DIFFERS");

    /* In place, over a changed collection. */
    PointId del[100];
    for (int i = 0; i < 100; i++) del[i] = point_id_num((uint64_t)i * 7);
    collection_delete_points(db, "bench", del, 100, NULL);
    t0 = now_seconds();
    if (collection_recover(db, "bench", file, NULL, err, sizeof err)) {
        fprintf(stderr, "recover: %s\n", err);
        return 1;
    }
    double tp = now_seconds() - t0;
    collection_graph_digest(db, "bench", NULL, &d2);
    printf("recover in place (old collection replaced and dropped): %.2f s; graph %s\n", tp,
           d0 == d2 ? "identical (digest)" : "DIFFERS");
    collection_delete(db, "copy");
    collection_db_close(db);
    return d0 == d1 && d0 == d2 ? 0 : 1;
}
