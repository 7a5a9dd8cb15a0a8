/*
 * bench_open.c - how long opening a data directory of N points takes,
 * for N up to millions, without building a graph first.
 *
 * Building a 1M x 512-d HNSW graph takes the better part of an hour on a
 * 2-core machine; what an open reads does not depend on how good the
 * graph is, only on its records. So this tool creates collection "bench"
 * (512-d Cosine by default, m 16) through the engine, then writes the
 * records an engine would have written for N points straight into LMDB,
 * in the documented layout (docs/storage.md): point records with a small
 * payload, dense vector blocks of unit vectors, and graph records whose
 * lists are full (2m links at level 0, m above: more than a real build
 * leaves, so the measure errs on the slow side) with levels drawn as HNSW
 * draws them, and the entry record. Then it opens the directory several
 * times (warm page cache) and prints the open time, and the pages each
 * database takes.
 *
 * Build and run (from the repository root, after `make`):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -I/usr/include/yajl -pthread \
 *      -o build/bench_open tools/bench_open.c build/release/libvitrine.a \
 *      -llmdb -lyajl -lm
 *   nice -n 5 build/bench_open /tmp/vitrine_open [N] [DIM] [OPENS]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/util.h"
#include "index/hnsw.h"
#include "index/pointid.h"
#include "store/collection.h"
#include "store/store.h"

#define M 16
#define NODES_PER_TXN 20000

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct {
    uint32_t cid, dim, k;
    size_t n, from, to;
    uint8_t *levels;
    float *block; /* one block's floats */
    uint8_t *buf;
} Fill;

static int fill_fn(StoreTxn *txn, void *ctx)
{
    Fill *f = ctx;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    int err = 0;
    /* Points: cid + id key -> u32 node, u32 mask, payload. */
    for (size_t i = f->from; i < f->to && !err; i++) {
        PointId id = point_id_num(i);
        size_t kl = store_key_point(key, f->cid, idkey, point_id_key(&id, idkey));
        char rec[64];
        store_put_le32((uint8_t *)rec, (uint32_t)i);
        store_put_le32((uint8_t *)rec + 4, 1);
        int pl = snprintf(rec + 8, sizeof rec - 8, "{\"sku\":%zu,\"cat\":%zu}", i, i % 13);
        err = store_put_append(txn, STORE_DB_POINTS, key, kl, rec, 8 + (size_t)pl);
    }
    /* Dense blocks (from and to are multiples of K but for the last). */
    for (size_t b0 = f->from; b0 < f->to && !err; b0 += f->k) {
        size_t n = MIN((size_t)f->k, f->to - b0);
        size_t len = 16 + n * f->dim * 4;
        memset(f->buf, 0, 16);
        f->buf[0] = 1;
        f->buf[2] = (uint8_t)(f->k & 0xff);
        f->buf[3] = (uint8_t)(f->k >> 8);
        store_put_le64(f->buf + 8, n == 64 ? ~0ull : ((1ull << n) - 1));
        for (size_t s = 0; s < n; s++) {
            float *v = (float *)(void *)(f->buf + 16 + s * f->dim * 4);
            double ss = 0;
            for (uint32_t d = 0; d < f->dim; d++) {
                v[d] = (float)((next() >> 11) * (2.0 / 9007199254740992.0) - 1.0);
                ss += (double)v[d] * v[d];
            }
            for (uint32_t d = 0; d < f->dim; d++) v[d] = (float)(v[d] / sqrt(ss));
        }
        size_t kl = store_key_node(key, f->cid, 0, (uint32_t)(b0 / f->k));
        err = store_put_append(txn, STORE_DB_DENSE, key, kl, f->buf, len);
    }
    /* Graph records: full lists of random nodes of at least that level. */
    for (size_t i = f->from; i < f->to && !err; i++) {
        int level = f->levels[i];
        uint8_t *p = f->buf;
        p[0] = (uint8_t)level;
        p[1] = p[2] = p[3] = 0;
        size_t pos = 4;
        for (int l = 0; l <= level; l++) {
            uint32_t c = l == 0 ? 2 * M : M;
            store_put_le32(p + pos, c);
            pos += 4;
            for (uint32_t j = 0; j < c; j++) {
                uint32_t x;
                do x = (uint32_t)(next() % f->n);
                while (f->levels[x] < l || x == i);
                store_put_le32(p + pos, x);
                pos += 4;
            }
        }
        size_t kl = store_key_node(key, f->cid, 0, (uint32_t)i);
        err = store_put_append(txn, STORE_DB_GRAPH, key, kl, p, pos);
    }
    return err;
}

typedef struct {
    uint32_t entry, level;
    uint32_t cid;
} Entry;

static int entry_fn(StoreTxn *txn, void *ctx)
{
    Entry *e = ctx;
    uint8_t key[STORE_KEY_MAX], rec[8];
    size_t kl = store_key_index(key, e->cid, 0);
    store_put_le32(rec, e->entry);
    store_put_le32(rec + 4, e->level);
    return store_put(txn, STORE_DB_GRAPH, key, kl, rec, sizeof rec);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_open DIR [N] [DIM] [OPENS]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    uint32_t dim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 512;
    int opens = argc > 4 ? atoi(argv[4]) : 3;
    log_set_level(LOG_WARN);
    Db *db;
    char err[256];
    if (collection_db_open(dir, NULL, &db)) return 1;
    CollectionInfo info;
    int fresh = collection_info(db, "bench", &info) != 0;
    if (fresh) {
        CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = M, .ef_construct = 100 };
        cfg.vectors[0].size = dim;
        cfg.vectors[0].distance = COLLECTION_COSINE;
        if (collection_create(db, "bench", &cfg, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    }
    collection_db_close(db);
    if (fresh && n) {
        Store *s;
        if (store_open(dir, NULL, &s)) return 1;
        StoreTxn *txn;
        Slice v;
        if (store_read_begin(s, &txn) ||
            store_get(txn, STORE_DB_COLLECTIONS, "bench", 5, &v))
            return 1;
        uint32_t cid = store_get_le32((const uint8_t *)v.ptr);
        store_read_end(txn);
        Fill f = { .cid = cid, .dim = dim, .n = n };
        f.k = (uint32_t)MIN(64, MAX(1, (131072 - 32) / (dim * 4)));
        f.levels = xmalloc(n);
        uint32_t entry = 0;
        int top = 0;
        for (size_t i = 0; i < n; i++) {
            double u = ((double)(next() >> 11) + 0.5) * 0x1p-53;
            int l = (int)floor(-log(u) / log((double)M));
            f.levels[i] = (uint8_t)MIN(l, HNSW_MAX_LEVEL);
            if (f.levels[i] > top || i == 0) {
                top = f.levels[i];
                entry = (uint32_t)i;
            }
        }
        f.buf = xmalloc(16 + (size_t)f.k * dim * 4 + 4 * (size_t)(HNSW_MAX_LEVEL + 3) * 2 * M);
        double t0 = now_seconds();
        size_t step = (NODES_PER_TXN / f.k) * f.k;
        for (f.from = 0; f.from < n; f.from += step) {
            f.to = MIN(n, f.from + step);
            if (store_write(s, fill_fn, &f)) return 1;
        }
        Entry e = { entry, (uint32_t)top, cid };
        if (store_write(s, entry_fn, &e)) return 1;
        printf("wrote %zu points of %u-d in %.1f s (top level %d)\n", n, dim, now_seconds() - t0,
               top);
        StoreDbStats st;
        const StoreDb dbs[] = { STORE_DB_DENSE, STORE_DB_GRAPH, STORE_DB_POINTS };
        const char *names[] = { "dense", "graph", "points" };
        for (int i = 0; i < 3; i++)
            if (!store_db_stats(s, dbs[i], &st))
                printf("%s: %.1f MB (%llu records)\n", names[i], (double)st.bytes / 1e6,
                       (unsigned long long)st.entries);
        printf("dense / float32 bytes: %.3f\n",
               (store_db_stats(s, STORE_DB_DENSE, &st), (double)st.bytes / ((double)n * dim * 4)));
        store_close(s);
        free(f.levels);
        free(f.buf);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    if (stat(path, &sb) == 0) printf("data.mdb: %.1f MB\n", (double)sb.st_size / 1e6);
    for (int r = 0; r < opens; r++) {
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        double t0 = now_seconds();
        if (collection_db_open(dir, NULL, &db)) return 1;
        double dt = now_seconds() - t0;
        getrusage(RUSAGE_SELF, &r1);
        double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) * 1e-6 +
                     (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                     (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) * 1e-6;
        collection_info(db, "bench", &info);
        printf("open: %.3f s wall, %.3f s CPU (all threads) for %llu points (index memory "
               "%.1f MB)\n", dt, cpu, (unsigned long long)info.points_count,
               (double)info.memory_bytes / 1e6);
        fflush(stdout);
        collection_db_close(db);
    }
    return 0;
}
