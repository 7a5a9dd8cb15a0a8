/*
 * test_qdrant_exact_only.c - Qdrant's hnsw m = 0 reaches the engine as
 * each dense vector's exact_only flag (qdrant_exact_only_sync, which the
 * Qdrant module runs at start and after a recover): a collection an older
 * build left with m = 0 in its options only gets the flags Qdrant's rule
 * gives (the vector's own hnsw_config.m, else the collection's), written
 * out here by hand for each case; a flag the options no longer ask for is
 * cleared; a collection already in agreement is left as it is; the flags
 * are persisted.
 */
#include <ftw.h>
#include <stdlib.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "harness.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* create makes collection name with vectors a and b (or one unnamed
 * vector when unnamed), the given options, and every flag 0: what a build
 * that kept m = 0 in the options only wrote. */
static int create(Db *db, const char *name, int unnamed, const char *options, int flag_a)
{
    CollectionConfig cfg = { .n_vectors = unnamed ? 1 : 2, .unnamed = unnamed, .m = 16,
                             .ef_construct = 100 };
    for (int v = 0; v < cfg.n_vectors; v++) {
        snprintf(cfg.vectors[v].name, sizeof cfg.vectors[v].name, "%s", unnamed ? "" : v ? "b" : "a");
        cfg.vectors[v].size = 4;
        cfg.vectors[v].distance = COLLECTION_DOT;
    }
    cfg.vectors[0].exact_only = flag_a;
    snprintf(cfg.options, sizeof cfg.options, "%s", options);
    char err[256];
    return collection_create(db, name, &cfg, err, sizeof err);
}

/* flags writes the exact_only flags of name's vectors as "ab" digits. */
static int flags(Db *db, const char *name, char out[3])
{
    CollectionInfo *ci = malloc(sizeof *ci);
    int rc = collection_info(db, name, ci);
    out[0] = out[1] = out[2] = '\0';
    for (int v = 0; !rc && v < ci->config.n_vectors; v++)
        out[v] = (char)('0' + ci->config.vectors[v].exact_only);
    free(ci);
    return rc;
}

TEST(test_sync)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/vitrine_test_exact_only_XXXXXX", env_or("TMPDIR", "/tmp"));
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    /* The collection's m = 0, inherited by the unnamed vector. */
    ASSERT_OK(create(db, "top", 1, "{\"hnsw_config\":{\"m\":0}}", 0));
    /* The collection's m = 0 for b; a's own m 16 overrides it. */
    ASSERT_OK(create(db, "inherit", 0,
                     "{\"hnsw_config\":{\"m\":0},\"vectors\":{\"a\":{\"hnsw_config\":{\"m\":16}}}}", 0));
    /* a's own m = 0 under the collection's 16. */
    ASSERT_OK(create(db, "own", 0,
                     "{\"hnsw_config\":{\"m\":16},\"vectors\":{\"a\":{\"hnsw_config\":{\"m\":0}}}}", 0));
    /* No m in the options at all (the engine's m, 16): no flag; a stale
     * one is cleared. */
    ASSERT_OK(create(db, "stale", 0, "{\"wal_config\":{}}", 1));
    ASSERT_OK(create(db, "plain", 0, "", 0));
    static const char *const names[] = { "top", "inherit", "own", "stale", "plain" };
    static const char *const want[] = { "1", "01", "10", "00", "00" };
    char got[3];
    ASSERT_OK(flags(db, "top", got));
    ASSERT_STR_EQ(got, "0");
    for (int i = 0; i < 5; i++) ASSERT_OK(qdrant_exact_only_sync(db, names[i]));
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(flags(db, names[i], got));
        ASSERT_STR_EQ(got, want[i]);
    }
    /* In agreement: a second sync keeps them; they were persisted. */
    for (int i = 0; i < 5; i++) ASSERT_OK(qdrant_exact_only_sync(db, names[i]));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(flags(db, names[i], got));
        ASSERT_STR_EQ(got, want[i]);
    }
    ASSERT_EQ_INT(qdrant_exact_only_sync(db, "nosuch"), ERR_NOTFOUND);
    collection_db_close(db);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    log_set_level(LOG_WARN);
    RUN(test_sync);
    return harness_report(__FILE__);
}
