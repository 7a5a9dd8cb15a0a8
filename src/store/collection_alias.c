/*
 * collection_alias.c - aliases: other names of collections (Qdrant's).
 *
 * An alias lives in STORE_DB_COLLECTIONS next to the collections, keyed by
 * its name: the two share one namespace (Qdrant refuses an alias named
 * like a collection and a collection named like an alias), so one key
 * space holds both and the store itself keeps them apart. An alias record
 * is u32 0 (no collection has cid 0), a tag byte COLL_RECORD_ALIAS and the
 * collection's name; docs/storage.md has the layout.
 *
 * In memory the Db keeps the table (Db.aliases), read under Db.lock
 * shared by every name lookup and changed under Db.lock exclusive by the
 * writer. An alias refers to its collection by name, as Qdrant's do;
 * deleting a collection deletes its aliases in the same transaction.
 *
 * collection_alias_apply is all or nothing: the actions run in order on a
 * copy of the table (each sees the ones before), and only if every one
 * succeeds are the changes written in one transaction and the copy
 * swapped in. Qdrant applies them one by one and keeps those before a
 * failure; all or nothing is what its documentation promises.
 */
#include "store/collection.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* ---- the table ---- */

static CollAlias *alias_find(CollAlias *a, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(a[i].alias, name)) return &a[i];
    return NULL;
}

const char *coll_alias_target(Db *db, const char *name)
{
    CollAlias *a = alias_find(db->aliases, db->n_aliases, name);
    return a ? a->collection : NULL;
}

void coll_alias_add(Db *db, const char *alias, const char *collection)
{
    if (db->n_aliases == db->cap_aliases) {
        db->cap_aliases = db->cap_aliases ? db->cap_aliases * 2 : 8;
        db->aliases = xrealloc(db->aliases, db->cap_aliases * sizeof *db->aliases);
    }
    db->aliases[db->n_aliases++] = (CollAlias){ xstrdup(alias), xstrdup(collection) };
}

static void table_free(CollAlias *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].alias);
        free(a[i].collection);
    }
    free(a);
}

void coll_alias_free_all(Db *db)
{
    table_free(db->aliases, db->n_aliases);
    db->aliases = NULL;
    db->n_aliases = db->cap_aliases = 0;
}

void coll_alias_drop_collection(Db *db, const char *collection)
{
    size_t m = 0;
    for (size_t i = 0; i < db->n_aliases; i++) {
        if (!strcmp(db->aliases[i].collection, collection)) {
            free(db->aliases[i].alias);
            free(db->aliases[i].collection);
        } else {
            db->aliases[m++] = db->aliases[i];
        }
    }
    db->n_aliases = m;
}

/* ---- records ---- */

int coll_alias_record_is(Slice val)
{
    return val.len >= 5 && store_get_le32((const uint8_t *)val.ptr) == 0 &&
           (uint8_t)val.ptr[4] == COLL_RECORD_ALIAS;
}

int coll_alias_record_put(StoreTxn *txn, const char *alias, const char *collection)
{
    uint8_t head[5] = { 0, 0, 0, 0, COLL_RECORD_ALIAS };
    return store_put2(txn, STORE_DB_COLLECTIONS, alias, strlen(alias), head, sizeof head,
                      collection, strlen(collection));
}

int coll_alias_record_del(StoreTxn *txn, const char *alias)
{
    int err = store_del(txn, STORE_DB_COLLECTIONS, alias, strlen(alias));
    return err == ERR_NOTFOUND ? 0 : err;
}

/* ---- apply ---- */

typedef struct {
    const CollAlias *old;
    size_t n_old;
    const CollAlias *next;
    size_t n_next;
} AliasSaveCtx;

/* alias_save_fn writes the difference between the old and the new table. */
static int alias_save_fn(StoreTxn *txn, void *vctx)
{
    AliasSaveCtx *x = vctx;
    int err = 0;
    for (size_t i = 0; i < x->n_old && !err; i++)
        if (!alias_find((CollAlias *)x->next, x->n_next, x->old[i].alias))
            err = coll_alias_record_del(txn, x->old[i].alias);
    for (size_t i = 0; i < x->n_next && !err; i++) {
        const CollAlias *o = alias_find((CollAlias *)x->old, x->n_old, x->next[i].alias);
        if (!o || strcmp(o->collection, x->next[i].collection))
            err = coll_alias_record_put(txn, x->next[i].alias, x->next[i].collection);
    }
    return err;
}

/* table_set points alias at collection in the working table, adding it
 * when new; collection is taken over (freed by the table). */
static void table_set(CollAlias **t, size_t *n, size_t *cap, const char *alias, char *collection)
{
    CollAlias *dup = alias_find(*t, *n, alias);
    if (dup) {
        free(dup->collection);
        dup->collection = collection;
        return;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *t = xrealloc(*t, *cap * sizeof **t);
    }
    (*t)[(*n)++] = (CollAlias){ xstrdup(alias), collection };
}

/* table_remove drops alias from the working table; returns its collection
 * (the caller's now), or NULL when there was none. */
static char *table_remove(CollAlias *t, size_t *n, const char *alias)
{
    CollAlias *a = alias_find(t, *n, alias);
    if (!a) return NULL;
    char *coll = a->collection;
    free(a->alias);
    *a = t[--*n];
    return coll;
}

/* action_apply runs one action on the working table t. */
static int action_apply(Db *db, CollAlias **t, size_t *n, size_t *cap,
                        const CollectionAliasAction *a, char *err, size_t errlen)
{
    const char *alias = a->kind == COLLECTION_ALIAS_RENAME ? a->new_alias_name : a->alias_name;
    if (!alias || (a->kind == COLLECTION_ALIAS_RENAME && !a->old_alias_name))
        return err_set(err, errlen, ERR_INVAL, "an alias name is missing");
    if (a->kind == COLLECTION_ALIAS_DELETE) {
        /* A missing alias is no error: Qdrant's delete_alias answers true. */
        free(table_remove(*t, n, alias));
        return 0;
    }
    if (a->kind != COLLECTION_ALIAS_CREATE && a->kind != COLLECTION_ALIAS_RENAME)
        return err_set(err, errlen, ERR_INVAL, "unknown alias action %d", (int)a->kind);
    if (!coll_name_valid(alias))
        return err_set(err, errlen, ERR_INVAL,
                       "alias name must have 1..%d bytes and none of / \\ < > : \" | ? *",
                       COLLECTION_MAX_NAME);
    if (coll_db_find_collection(db, alias))
        return err_set(err, errlen, ERR_EXISTS, "Collection `%s` already exists!", alias);
    if (a->kind == COLLECTION_ALIAS_RENAME) {
        char *coll = table_remove(*t, n, a->old_alias_name);
        if (!coll)
            return err_set(err, errlen, ERR_NOTFOUND, "Alias %s does not exists!",
                           a->old_alias_name);
        table_set(t, n, cap, alias, coll); /* an alias of that name is replaced */
        return 0;
    }
    /* Create: the target must be a collection, not another alias; an
     * existing alias of that name is pointed at it (both Qdrant's rules). */
    if (!a->collection_name || !coll_db_find_collection(db, a->collection_name))
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                       a->collection_name ? a->collection_name : "");
    table_set(t, n, cap, alias, xstrdup(a->collection_name));
    return 0;
}

int collection_alias_apply(Db *db, const CollectionAliasAction *actions, size_t n, char *err,
                           size_t errlen)
{
    pthread_mutex_lock(&db->write);
    /* A working copy; the live table stays as it is until the commit. */
    size_t tn = db->n_aliases, tcap = tn ? tn : 1;
    CollAlias *t = xmalloc(tcap * sizeof *t);
    for (size_t i = 0; i < tn; i++)
        t[i] = (CollAlias){ xstrdup(db->aliases[i].alias), xstrdup(db->aliases[i].collection) };
    int e = 0;
    for (size_t i = 0; i < n && !e; i++) e = action_apply(db, &t, &tn, &tcap, &actions[i], err, errlen);
    if (!e) {
        AliasSaveCtx x = { db->aliases, db->n_aliases, t, tn };
        e = store_write(db->store, alias_save_fn, &x);
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
    }
    if (!e) {
        pthread_rwlock_wrlock(&db->lock);
        CollAlias *old = db->aliases;
        size_t n_old = db->n_aliases;
        db->aliases = t;
        db->n_aliases = tn;
        db->cap_aliases = tcap;
        pthread_rwlock_unlock(&db->lock);
        table_free(old, n_old);
    } else {
        table_free(t, tn);
    }
    pthread_mutex_unlock(&db->write);
    return e;
}

static int cmp_alias(const void *a, const void *b)
{
    return strcmp(((const CollectionAlias *)a)->alias_name, ((const CollectionAlias *)b)->alias_name);
}

int collection_alias_list(Db *db, const char *collection, Arena *arena, CollectionAlias **out,
                          size_t *n)
{
    pthread_rwlock_rdlock(&db->lock);
    CollectionAlias *a = arena_alloc(arena, (db->n_aliases + 1) * sizeof *a);
    size_t m = 0;
    for (size_t i = 0; i < db->n_aliases; i++) {
        const CollAlias *x = &db->aliases[i];
        if (collection && strcmp(x->collection, collection)) continue;
        a[m].alias_name = arena_strndup(arena, x->alias, strlen(x->alias));
        a[m].collection_name = arena_strndup(arena, x->collection, strlen(x->collection));
        m++;
    }
    pthread_rwlock_unlock(&db->lock);
    qsort(a, m, sizeof *a, cmp_alias);
    *out = a;
    *n = m;
    return 0;
}
