/*
 * test_store_alias.c - aliases, against Qdrant's rules (its
 * lib/storage/src/content_manager/toc and tests/openapi/test_alias.py):
 *
 *   - an alias works wherever a collection name does (get, count, search,
 *     writes and write groups), except create and delete, which take the
 *     collection's own name;
 *   - create / delete / rename, with Qdrant's errors and messages; a list
 *     of actions is applied all or nothing;
 *   - an alias named like a collection is refused (409), and a collection
 *     named like an alias (400);
 *   - aliases survive a reopen; deleting a collection deletes its aliases.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "harness.h"
#include "store/collection.h"

#define DIM 4

static char g_dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int create(Db *db, const char *name)
{
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_EUCLID;
    char err[256];
    return collection_create(db, name, &cfg, err, sizeof err);
}

static int upsert(Db *db, const char *name, uint64_t id)
{
    float v[DIM] = { (float)id, 1, 2, 3 };
    CollectionVectorIn vin = { NULL, v, DIM, NULL, NULL };
    CollectionPointIn p = { point_id_num(id), NULL, &vin, 1 };
    char err[256];
    return collection_upsert(db, name, &p, 1, err, sizeof err);
}

static int64_t count(Db *db, const char *name)
{
    uint64_t n;
    char err[256];
    int e = collection_count(db, name, NULL, &n, err, sizeof err);
    return e ? e : (int64_t)n;
}

/* listing renders the aliases of collection (NULL: all) as "a>c,b>c". */
static const char *listing(Db *db, const char *collection)
{
    static char out[512];
    Arena a;
    arena_init(&a, 0);
    CollectionAlias *al;
    size_t n;
    out[0] = '\0';
    if (collection_alias_list(db, collection, &a, &al, &n) == 0)
        for (size_t i = 0; i < n; i++)
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s>%s", i ? "," : "",
                     al[i].alias_name, al[i].collection_name);
    arena_free(&a);
    return out;
}

static CollectionAliasAction mk_create(const char *alias, const char *coll)
{
    return (CollectionAliasAction){ .kind = COLLECTION_ALIAS_CREATE, .alias_name = alias,
                                    .collection_name = coll };
}

TEST(test_aliases)
{
    Db *db;
    char err[256];
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    ASSERT_OK(create(db, "a"));
    ASSERT_OK(create(db, "b"));
    ASSERT_OK(upsert(db, "a", 1));
    ASSERT_OK(upsert(db, "a", 2));
    ASSERT_OK(upsert(db, "b", 9));

    CollectionAliasAction two[2] = { mk_create("x", "a"), mk_create("y", "a") };
    ASSERT_OK(collection_alias_apply(db, two, 2, err, sizeof err));
    ASSERT_STR_EQ(listing(db, NULL), "x>a,y>a");
    ASSERT_STR_EQ(listing(db, "a"), "x>a,y>a");
    ASSERT_STR_EQ(listing(db, "b"), "");
    ASSERT_STR_EQ(listing(db, "x"), ""); /* the collection's own name only */

    /* The alias works for reads and writes. */
    ASSERT_EQ_INT(count(db, "x"), 2);
    ASSERT_OK(upsert(db, "x", 3));
    ASSERT_EQ_INT(count(db, "a"), 3);
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "y", &info));
    ASSERT_EQ_U64(info.points_count, 3);
    float q[DIM] = { 2, 1, 2, 3 };
    CollectionSearch s = { .vector = q, .dim = DIM, .limit = 1 };
    Arena ar;
    arena_init(&ar, 0);
    CollectionResult r;
    ASSERT_OK(collection_search(db, "y", &s, &ar, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_U64(r.points[0].id.num, 2);
    PointId id1 = point_id_num(1);
    CollectionOp del = { .kind = COLLECTION_OP_DELETE, .ids = &id1, .n_ids = 1 };
    CollectionWrite w = { .collection = "y", .ops = &del, .n_ops = 1 };
    CollectionWrite *wp = &w;
    ASSERT_OK(collection_write_group(db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, 0);
    ASSERT_EQ_INT(w.n_affected, 1);
    ASSERT_EQ_INT(count(db, "a"), 2);
    arena_free(&ar);

    /* Errors leave everything as it was, even earlier actions of the list. */
    CollectionAliasAction bad1[2] = { mk_create("z", "a"), mk_create("w", "missing") };
    ASSERT_EQ_INT(collection_alias_apply(db, bad1, 2, err, sizeof err), ERR_NOTFOUND);
    ASSERT_STR_EQ(err, "Collection `missing` doesn't exist!");
    CollectionAliasAction bad2 = mk_create("b", "a");
    ASSERT_EQ_INT(collection_alias_apply(db, &bad2, 1, err, sizeof err), ERR_EXISTS);
    ASSERT_STR_EQ(err, "Collection `b` already exists!");
    CollectionAliasAction bad3 = mk_create("v", "x"); /* an alias of an alias */
    ASSERT_EQ_INT(collection_alias_apply(db, &bad3, 1, err, sizeof err), ERR_NOTFOUND);
    CollectionAliasAction bad4 = { .kind = COLLECTION_ALIAS_RENAME, .old_alias_name = "q",
                                   .new_alias_name = "q2" };
    ASSERT_EQ_INT(collection_alias_apply(db, &bad4, 1, err, sizeof err), ERR_NOTFOUND);
    ASSERT_STR_EQ(err, "Alias q does not exists!");
    CollectionAliasAction bad5 = { .kind = COLLECTION_ALIAS_RENAME, .old_alias_name = "x",
                                   .new_alias_name = "b" };
    ASSERT_EQ_INT(collection_alias_apply(db, &bad5, 1, err, sizeof err), ERR_EXISTS);
    CollectionAliasAction bad6 = mk_create("", "a");
    ASSERT_EQ_INT(collection_alias_apply(db, &bad6, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(listing(db, NULL), "x>a,y>a");

    /* Deleting a missing alias is no error (Qdrant answers true). */
    CollectionAliasAction del_missing = { .kind = COLLECTION_ALIAS_DELETE, .alias_name = "nope" };
    ASSERT_OK(collection_alias_apply(db, &del_missing, 1, err, sizeof err));

    /* Rename, re-point by create, and later actions seeing earlier ones. */
    CollectionAliasAction seq[3] = {
        { .kind = COLLECTION_ALIAS_RENAME, .old_alias_name = "x", .new_alias_name = "x2" },
        mk_create("y", "b"),
        mk_create("t", "b"),
    };
    ASSERT_OK(collection_alias_apply(db, seq, 3, err, sizeof err));
    ASSERT_STR_EQ(listing(db, NULL), "t>b,x2>a,y>b");
    ASSERT_EQ_INT(count(db, "x"), ERR_NOTFOUND);
    ASSERT_EQ_INT(count(db, "x2"), 2);
    ASSERT_EQ_INT(count(db, "y"), 1);
    CollectionAliasAction rm = { .kind = COLLECTION_ALIAS_DELETE, .alias_name = "t" };
    ASSERT_OK(collection_alias_apply(db, &rm, 1, err, sizeof err));

    /* A collection may not take an alias's name (Qdrant: 400, these words). */
    ASSERT_EQ_INT(create(db, "x2"), ERR_INVAL);
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = DIM;
    ASSERT_EQ_INT(collection_create(db, "x2", &cfg, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Can't create collection with name x2. Alias with the same name already "
                       "exists");

    /* Persisted. */
    collection_db_close(db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    ASSERT_STR_EQ(listing(db, NULL), "x2>a,y>b");
    ASSERT_EQ_INT(count(db, "x2"), 2);

    /* Delete takes the collection's own name; deleting it drops its aliases. */
    ASSERT_EQ_INT(collection_delete(db, "x2"), ERR_NOTFOUND);
    ASSERT_EQ_INT(count(db, "a"), 2);
    ASSERT_OK(collection_delete(db, "a"));
    ASSERT_STR_EQ(listing(db, NULL), "y>b");
    ASSERT_EQ_INT(count(db, "x2"), ERR_NOTFOUND);
    /* The freed names are free again, for a collection and for an alias. */
    ASSERT_OK(create(db, "x2"));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    ASSERT_STR_EQ(listing(db, NULL), "y>b");
    ASSERT_EQ_INT(count(db, "x2"), 0);
    ASSERT_EQ_INT(count(db, "y"), 1);
    Arena la;
    arena_init(&la, 0);
    char **names;
    size_t n;
    ASSERT_OK(collection_list(db, &la, &names, &n)); /* aliases are not collections */
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(names[0], "b");
    ASSERT_STR_EQ(names[1], "x2");
    arena_free(&la);
    collection_db_close(db);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_alias_XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_aliases);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report(__FILE__);
}
