/*
 * store.c - LMDB persistence (see store.h for the design).
 *
 * Locking. LMDB lets the map be resized only while no transaction is
 * active in the process. Every transaction (read or write) therefore holds
 * Store.resize shared for its whole life, and map growth takes it
 * exclusively between two attempts of a write. The lock prefers writers so
 * a steady stream of readers cannot starve a growth; the price is that a
 * thread must never begin a second transaction while it holds one (it
 * would wait behind the grower, which waits for it). Transactions here are
 * short and never nested, so that is a rule the callers already follow.
 *
 * The alternative rejected: a huge fixed map (1 TiB) reserved up front.
 * It avoids growth entirely on 64-bit systems, but fails on systems with a
 * limited address space (containers with ulimit -v, 32-bit builds) and
 * does not exercise the MDB_MAP_FULL path that a full disk quota also
 * takes, so the map starts modest and doubles.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"

/* Names of the databases, in StoreDb order. */
static const char *const store_db_names[STORE_DB_COUNT] = {
    "meta", "collections", "records", "points", "vectors", "graph", "pending", "payload_index", "blobs",
    "dense",
};

/* The meta record's key and its value: magic (8 bytes) + LE u32 version. */
#define STORE_META_FORMAT_KEY "format"
#define STORE_META_FORMAT_LEN 12
/* The lock file of a data directory (store_lock_dir). */
#define STORE_LOCK_FILE "vitrine.lock"
/* Copy buffer of store_restore. */
#define STORE_COPY_CHUNK (1 << 20)

struct Store {
    MDB_env *env;
    MDB_dbi dbi[STORE_DB_COUNT];
    pthread_rwlock_t resize; /* shared by every transaction, exclusive to grow */
    size_t map_size;
    unsigned grows;
    char *dir;
    int lock_fd; /* DIR/vitrine.lock, flock'ed exclusively while open (store_lock_dir) */
};

struct StoreTxn {
    Store *s;
    MDB_txn *txn;
    int write;
    int map_full; /* an operation hit MDB_MAP_FULL: abort, grow, retry */
    StoreTxn *parent; /* a sub-transaction's parent, else NULL */
};

struct StoreCursor {
    StoreTxn *t;
    MDB_cursor *c;
};

/* ---- error translation (the one place MDB_* codes become ERR_*) ---- */

static int store_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return ERR_NOTFOUND;
    case MDB_KEYEXIST: return ERR_EXISTS;
    case MDB_MAP_FULL: return ERR_FULL;
    case MDB_TXN_FULL: return ERR_TOOLARGE;
    case MDB_BAD_VALSIZE: return ERR_TOOLARGE;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND: return ERR_FORMAT;
    case MDB_READERS_FULL: return ERR_BUSY;
    case ENOMEM: return ERR_NOMEM;
    /* A full disk or quota fails the commit's page writes; the transaction
     * is aborted whole, so it is "full" like a map that cannot grow. */
    case ENOSPC:
    case EDQUOT: return ERR_FULL;
    default: return rc > 0 ? ERR_IO : ERR_STORE;
    }
}

/* store_fail logs an LMDB failure once, with what was being done, and
 * returns the translated code. NOTFOUND is an answer, not a failure, and
 * MAP_FULL is handled by store_write, so neither is logged. */
static int store_fail(const char *what, int rc)
{
    if (rc != MDB_NOTFOUND && rc != MDB_MAP_FULL)
        log_error("store: %s: %s", what, mdb_strerror(rc));
    return store_err(rc);
}

/* store_op_result records MAP_FULL in the transaction, so store_write
 * retries even when the caller swallowed the error. */
static int store_op_result(StoreTxn *t, const char *what, int rc)
{
    if (rc == MDB_MAP_FULL) t->map_full = 1;
    return rc ? store_fail(what, rc) : 0;
}

/* ---- database names ---- */

const char *store_db_name(StoreDb db)
{
    return (unsigned)db < STORE_DB_COUNT ? store_db_names[db] : "?";
}

int store_db_by_name(const char *name, size_t len, StoreDb *out)
{
    for (int i = 0; i < STORE_DB_COUNT; i++)
        if (strlen(store_db_names[i]) == len && !memcmp(store_db_names[i], name, len)) {
            *out = (StoreDb)i;
            return 0;
        }
    return ERR_NOTFOUND;
}

/* ---- byte codecs and keys ---- */

void store_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t store_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void store_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t store_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void store_put_le64(uint8_t *p, uint64_t v)
{
    store_put_le32(p, (uint32_t)v);
    store_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint64_t store_get_le64(const uint8_t *p)
{
    return (uint64_t)store_get_le32(p) | (uint64_t)store_get_le32(p + 4) << 32;
}

size_t store_key_cid(uint8_t out[STORE_KEY_MAX], uint32_t cid)
{
    store_put_be32(out, cid);
    return 4;
}

size_t store_key_point(uint8_t out[STORE_KEY_MAX], uint32_t cid, const uint8_t *idkey,
                       size_t idlen)
{
    if (idlen > STORE_POINT_ID_KEY_MAX) idlen = STORE_POINT_ID_KEY_MAX;
    store_put_be32(out, cid);
    memcpy(out + 4, idkey, idlen);
    return 4 + idlen;
}

size_t store_key_index(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint16_t vidx)
{
    store_put_be32(out, cid);
    out[4] = (uint8_t)(vidx >> 8);
    out[5] = (uint8_t)vidx;
    return 6;
}

size_t store_key_node(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint16_t vidx, uint32_t node)
{
    store_key_index(out, cid, vidx);
    store_put_be32(out + 6, node);
    return 10;
}

size_t store_key_pending(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint32_t node)
{
    store_put_be32(out, cid);
    store_put_be32(out + 4, node);
    return 8;
}

/* ---- transactions ---- */

int store_read_begin(Store *s, StoreTxn **out)
{
    StoreTxn *t = xcalloc(1, sizeof *t);
    t->s = s;
    pthread_rwlock_rdlock(&s->resize);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn);
    if (rc) {
        pthread_rwlock_unlock(&s->resize);
        free(t);
        return store_fail("begin read transaction", rc);
    }
    *out = t;
    return 0;
}

void store_read_end(StoreTxn *t)
{
    if (!t) return;
    mdb_txn_abort(t->txn);
    pthread_rwlock_unlock(&t->s->resize);
    free(t);
}

/* store_grow doubles the map. Called with no transaction active in this
 * thread; the exclusive lock waits for every other one to end. */
static int store_grow(Store *s)
{
    int err = 0;
    pthread_rwlock_wrlock(&s->resize);
    if (s->map_size >= STORE_MAX_MAP_SIZE) {
        log_error("store: %s: the map is full at its limit of %zu bytes", s->dir, s->map_size);
        err = ERR_FULL;
    } else {
        size_t next = s->map_size * 2;
        if (next > STORE_MAX_MAP_SIZE) next = STORE_MAX_MAP_SIZE;
        int rc = mdb_env_set_mapsize(s->env, next);
        if (rc) {
            err = store_fail("grow the map", rc);
        } else {
            log_info("store: %s: map grown from %zu to %zu bytes", s->dir, s->map_size, next);
            s->map_size = next;
            s->grows++;
        }
    }
    pthread_rwlock_unlock(&s->resize);
    return err;
}

/* Below this many free bytes on the data directory's filesystem, a
 * commit that failed with EIO is taken for a full disk. */
#define STORE_FULL_SLACK_BYTES (1u << 20)

/* store_commit_fail translates a failed commit. LMDB reports a short page
 * write as EIO ("short write, filesystem full?" in mdb_page_flush) rather
 * than ENOSPC, so an EIO on a filesystem with next to no free space is a
 * full disk: ERR_FULL, which the API answers with 507, not a 500. The
 * transaction was aborted whole either way. */
static int store_commit_fail(Store *s, int rc)
{
    struct statvfs vfs;
    if (rc == EIO && statvfs(s->dir, &vfs) == 0 &&
        (unsigned long long)vfs.f_bavail * vfs.f_frsize < STORE_FULL_SLACK_BYTES) {
        log_error("store: commit: no space left on the filesystem of %s (%llu bytes free); the write "
                  "was not stored", s->dir, (unsigned long long)vfs.f_bavail * vfs.f_frsize);
        return ERR_FULL;
    }
    if (rc == ENOSPC || rc == EDQUOT)
        log_error("store: commit: no space left on the filesystem of %s (%s); the write was not stored",
                  s->dir, mdb_strerror(rc));
    else
        log_error("store: commit: %s", mdb_strerror(rc));
    return store_err(rc);
}

int store_write(Store *s, StoreWriteFn fn, void *ctx)
{
    for (;;) {
        StoreTxn t = { .s = s, .write = 1 };
        pthread_rwlock_rdlock(&s->resize);
        int rc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
        if (rc) {
            pthread_rwlock_unlock(&s->resize);
            return store_fail("begin write transaction", rc);
        }
        int err = fn(&t, ctx);
        if (err || t.map_full) {
            mdb_txn_abort(t.txn);
        } else {
            /* On failure mdb_txn_commit frees the transaction itself. */
            rc = mdb_txn_commit(t.txn);
            if (rc == MDB_MAP_FULL) t.map_full = 1;
            else if (rc) err = store_commit_fail(s, rc);
        }
        pthread_rwlock_unlock(&s->resize);
        if (!t.map_full) return err;
        int gerr = store_grow(s);
        if (gerr) return gerr;
    }
}

int store_sub_begin(StoreTxn *parent, StoreTxn **out)
{
    StoreTxn *t = xcalloc(1, sizeof *t);
    t->s = parent->s;
    t->write = 1;
    t->parent = parent;
    int rc = mdb_txn_begin(parent->s->env, parent->txn, 0, &t->txn);
    if (rc) {
        free(t);
        return store_op_result(parent, "begin sub-transaction", rc);
    }
    *out = t;
    return 0;
}

int store_sub_commit(StoreTxn *t)
{
    StoreTxn *parent = t->parent;
    int err = 0;
    if (t->map_full) {
        /* The parent is retried as a whole; this part is thrown away. */
        mdb_txn_abort(t->txn);
        parent->map_full = 1;
        err = ERR_FULL;
    } else {
        int rc = mdb_txn_commit(t->txn);
        if (rc) err = store_op_result(parent, "commit sub-transaction", rc);
    }
    free(t);
    return err;
}

int store_txn_retrying(const StoreTxn *t)
{
    for (; t; t = t->parent)
        if (t->map_full) return 1;
    return 0;
}

void store_sub_abort(StoreTxn *t)
{
    if (!t) return;
    if (t->map_full) t->parent->map_full = 1;
    mdb_txn_abort(t->txn);
    free(t);
}

/* ---- records ---- */

int store_get(StoreTxn *t, StoreDb db, const void *key, size_t klen, Slice *val)
{
    MDB_val k = { klen, (void *)key }, v;
    int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
    if (rc) return store_op_result(t, "get", rc);
    val->ptr = v.mv_data;
    val->len = v.mv_size;
    return 0;
}

int store_put2(StoreTxn *t, StoreDb db, const void *key, size_t klen, const void *a,
               size_t alen, const void *b, size_t blen)
{
    MDB_val k = { klen, (void *)key }, v = { alen + blen, NULL };
    /* MDB_RESERVE hands back the value's place in the map, so the two
     * parts are copied once, straight into the page. */
    int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_RESERVE);
    if (rc) return store_op_result(t, "put", rc);
    if (alen) memcpy(v.mv_data, a, alen);
    if (blen) memcpy((char *)v.mv_data + alen, b, blen);
    return 0;
}

int store_put(StoreTxn *t, StoreDb db, const void *key, size_t klen, const void *val,
              size_t vlen)
{
    return store_put2(t, db, key, klen, val, vlen, NULL, 0);
}

int store_put_append(StoreTxn *t, StoreDb db, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, NULL };
    int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        /* Not past the last key: an ordinary put. */
        v = (MDB_val){ vlen, NULL };
        rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_RESERVE);
    }
    if (rc) return store_op_result(t, "put", rc);
    if (vlen) memcpy(v.mv_data, val, vlen);
    return 0;
}

int store_put_reserve(StoreTxn *t, StoreDb db, const void *key, size_t klen, size_t vlen,
                      void **out)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, NULL };
    int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_RESERVE);
    if (rc) return store_op_result(t, "put", rc);
    *out = v.mv_data;
    return 0;
}

int store_del(StoreTxn *t, StoreDb db, const void *key, size_t klen)
{
    MDB_val k = { klen, (void *)key };
    int rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
    return rc ? store_op_result(t, "delete", rc) : 0;
}

int store_del_prefix(StoreTxn *t, StoreDb db, const void *prefix, size_t plen, size_t *n_deleted)
{
    return store_del_prefix_max(t, db, prefix, plen, SIZE_MAX, n_deleted);
}

int store_del_prefix_max(StoreTxn *t, StoreDb db, const void *prefix, size_t plen, size_t max,
                         size_t *n_deleted)
{
    MDB_cursor *c;
    size_t n = 0;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc) return store_op_result(t, "open cursor", rc);
    while (n < max) {
        /* Seek again after each delete: simple, and O(log n) per key. */
        MDB_val k = { plen, (void *)prefix }, v;
        rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc) break;
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) break;
        rc = mdb_cursor_del(c, 0);
        if (rc) break;
        n++;
    }
    mdb_cursor_close(c);
    if (n_deleted) *n_deleted = n;
    return rc ? store_op_result(t, "delete range", rc) : 0;
}

/* ---- cursors ---- */

int store_cursor_open(StoreTxn *t, StoreDb db, StoreCursor **out)
{
    StoreCursor *c = xcalloc(1, sizeof *c);
    c->t = t;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c->c);
    if (rc) {
        free(c);
        return store_op_result(t, "open cursor", rc);
    }
    *out = c;
    return 0;
}

static int store_cursor_result(StoreCursor *c, int rc, MDB_val *k, MDB_val *v, Slice *ks,
                               Slice *vs)
{
    if (rc) return store_op_result(c->t, "cursor", rc);
    if (ks) *ks = (Slice){ k->mv_data, k->mv_size };
    if (vs) *vs = (Slice){ v->mv_data, v->mv_size };
    return 0;
}

int store_cursor_seek(StoreCursor *c, const void *key, size_t klen, Slice *ks, Slice *vs)
{
    MDB_val k = { klen, (void *)key }, v;
    int rc = mdb_cursor_get(c->c, &k, &v, klen ? MDB_SET_RANGE : MDB_FIRST);
    return store_cursor_result(c, rc, &k, &v, ks, vs);
}

int store_cursor_next(StoreCursor *c, Slice *ks, Slice *vs)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c->c, &k, &v, MDB_NEXT);
    return store_cursor_result(c, rc, &k, &v, ks, vs);
}

void store_cursor_close(StoreCursor *c)
{
    if (!c) return;
    mdb_cursor_close(c->c);
    free(c);
}

/* ---- open, meta record, close ---- */

/* store_check_foreign refuses an environment whose main database holds
 * keys other than our database names: it was written by another program. */
static int store_check_foreign(StoreTxn *t)
{
    MDB_dbi main_dbi;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_dbi_open(t->txn, NULL, 0, &main_dbi);
    if (rc) return store_op_result(t, "open main database", rc);
    rc = mdb_cursor_open(t->txn, main_dbi, &c);
    if (rc) return store_op_result(t, "open cursor", rc);
    int foreign = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int known = 0;
        for (int i = 0; i < STORE_DB_COUNT; i++)
            if (k.mv_size == strlen(store_db_names[i]) &&
                !memcmp(k.mv_data, store_db_names[i], k.mv_size))
                known = 1;
        if (!known) foreign = 1;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return store_op_result(t, "scan main database", rc);
    if (foreign) {
        log_error("store: %s: this LMDB environment was not written by vitrine "
                  "(unknown databases); refusing to use it", t->s->dir);
        return ERR_FORMAT;
    }
    return 0;
}

/* store_init_fn opens the databases and checks or writes the meta record,
 * in the first write transaction of the process. */
static int store_init_fn(StoreTxn *t, void *ctx)
{
    (void)ctx;
    Store *s = t->s;
    int err = store_check_foreign(t);
    if (err) return err;
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        int rc = mdb_dbi_open(t->txn, store_db_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc) return store_op_result(t, "open database", rc);
    }
    Slice v = { NULL, 0 };
    err = store_get(t, STORE_DB_META, STORE_META_FORMAT_KEY, strlen(STORE_META_FORMAT_KEY), &v);
    if (err == ERR_NOTFOUND) {
        /* A new directory: only a brand-new environment may get a meta
         * record; one with collections but no meta record is damaged. */
        MDB_stat st;
        int rc = mdb_stat(t->txn, s->dbi[STORE_DB_COLLECTIONS], &st);
        if (rc) return store_op_result(t, "stat", rc);
        if (st.ms_entries) {
            log_error("store: %s: collections exist but the format record is missing; "
                      "refusing to guess the layout", s->dir);
            return ERR_FORMAT;
        }
        uint8_t rec[STORE_META_FORMAT_LEN];
        memcpy(rec, STORE_MAGIC, 8);
        store_put_le32(rec + 8, STORE_FORMAT_VERSION);
        return store_put(t, STORE_DB_META, STORE_META_FORMAT_KEY,
                         strlen(STORE_META_FORMAT_KEY), rec, sizeof rec);
    }
    if (err) return err;
    if (v.len != STORE_META_FORMAT_LEN || memcmp(v.ptr, STORE_MAGIC, 8) != 0) {
        log_error("store: %s: the format record is not vitrine's (bad magic); refusing "
                  "to use this directory", s->dir);
        return ERR_FORMAT;
    }
    uint32_t version = store_get_le32((const uint8_t *)v.ptr + 8);
    if (version < STORE_FORMAT_OLDEST || version > STORE_FORMAT_VERSION) {
        log_error("store: %s: data format version %u, but this build reads versions %u to %u; "
                  "use a matching vitrine or restore from an export", s->dir, version,
                  STORE_FORMAT_OLDEST, STORE_FORMAT_VERSION);
        return ERR_FORMAT;
    }
    /* An older version is opened as it is: the collection engine
     * migrates it (store_format_get tells it which) before using it. */
    return 0;
}

int store_format_get(StoreTxn *t, uint32_t *version)
{
    Slice v = { NULL, 0 };
    int err = store_get(t, STORE_DB_META, STORE_META_FORMAT_KEY, strlen(STORE_META_FORMAT_KEY), &v);
    if (err) return err;
    if (v.len != STORE_META_FORMAT_LEN || memcmp(v.ptr, STORE_MAGIC, 8) != 0) return ERR_FORMAT;
    *version = store_get_le32((const uint8_t *)v.ptr + 8);
    return 0;
}

int store_format_put(StoreTxn *t, uint32_t version)
{
    uint8_t rec[STORE_META_FORMAT_LEN];
    memcpy(rec, STORE_MAGIC, 8);
    store_put_le32(rec + 8, version);
    return store_put(t, STORE_DB_META, STORE_META_FORMAT_KEY, strlen(STORE_META_FORMAT_KEY), rec,
                     sizeof rec);
}

/* ---- the data directory: one process, our files ---- */

/*
 * store_lock_dir takes an exclusive flock on DIR/vitrine.lock and writes
 * our pid into it; the lock lasts while *fd_out stays open (the kernel
 * drops it when the process dies, SIGKILL included, so a crash never
 * leaves a stale lock). LMDB alone would let a second process open the
 * same environment, and two servers on one directory would each keep
 * their own in-memory index of data the other changes. ERR_BUSY (logged,
 * with the holder's pid) when another process holds the directory,
 * ERR_IO when the file cannot be opened.
 */
static int store_lock_dir(const char *dir, int *fd_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, STORE_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        log_error("store: cannot open the lock file %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            log_error("store: %s is in use by another process (pid %s, holding %s); one directory serves "
                      "one vitrine at a time: stop the other one or use another --data",
                      dir, *pid ? pid : "?", path);
        else
            log_error("store: cannot lock %s: %s", path, strerror(e));
        close(fd);
        return e == EWOULDBLOCK ? ERR_BUSY : ERR_IO;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        log_warn("store: cannot write the pid into %s: %s", path, strerror(errno));
    *fd_out = fd;
    return 0;
}

/* store_check_files refuses, before LMDB maps anything, a data.mdb that
 * cannot be a vitrine environment (empty, a directory, a link) and a
 * directory without data.mdb that holds files of another program (a
 * Qdrant storage folder, say), which would otherwise get a fresh empty
 * database beside them. */
static int store_check_files(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            log_error("store: %s is not a regular file; refusing to open the directory", path);
            return ERR_FORMAT;
        }
        if (st.st_size == 0) {
            log_error("store: %s is empty (truncated?); refusing to open it, which would start a new "
                      "empty database over it. Restore it, or remove it to start afresh", path);
            return ERR_FORMAT;
        }
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) return 0; /* store_open's own open reports it */
    const char *other = NULL;
    struct dirent *e;
    char first[256] = "";
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "lock.mdb") || !strcmp(n, STORE_LOCK_FILE) ||
            !strcmp(n, "snapshots"))
            continue;
        snprintf(first, sizeof first, "%s", n);
        other = first;
        break;
    }
    closedir(d);
    if (other) {
        log_error("store: %s holds '%s' but no data.mdb: not a vitrine data directory; refusing to "
                  "create a database in it (use an empty or new directory)", dir, other);
        return ERR_FORMAT;
    }
    return 0;
}

/* store_check_size refuses a data.mdb shorter than the pages its meta
 * page says are in use: LMDB would map it and fault (SIGBUS) on the first
 * read past its end. */
static int store_check_size(Store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    struct stat fs;
    if (stat(path, &fs) != 0) return 0;
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)fs.st_size < need) {
        log_error("store: %s is truncated: %lld bytes, but its pages in use end at %llu bytes; "
                  "refusing to open it (restore it from a copy or a snapshot)",
                  path, (long long)fs.st_size, (unsigned long long)need);
        return ERR_FORMAT;
    }
    return 0;
}

int store_open(const char *dir, const StoreOptions *opt, Store **out)
{
    size_t map_size = opt && opt->map_size ? opt->map_size : STORE_DEFAULT_MAP_SIZE;
    if (map_size < STORE_MIN_MAP_SIZE) map_size = STORE_MIN_MAP_SIZE;
    if (map_size > STORE_MAX_MAP_SIZE) map_size = STORE_MAX_MAP_SIZE;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_error("store: cannot create data directory %s: %s", dir, strerror(errno));
        return ERR_IO;
    }
    int lock_fd;
    int lerr = store_lock_dir(dir, &lock_fd);
    if (lerr) return lerr;
    lerr = store_check_files(dir);
    if (lerr) {
        close(lock_fd);
        return lerr;
    }
    Store *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(dir);
    s->lock_fd = lock_fd;
    rwlock_init_writer_pref(&s->resize); /* map growth must not be starved by readers */
    int rc = mdb_env_create(&s->env);
    if (!rc) rc = mdb_env_set_maxdbs(s->env, STORE_DB_COUNT + 2);
    if (!rc) rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS);
    if (!rc) rc = mdb_env_set_mapsize(s->env, map_size);
    /* MDB_NOTLS: read transactions are not tied to threads, so a reader
     * may begin on one threadpool thread and the slot is never leaked to a
     * thread-local. Sync on commit stays on: that is the durability. */
    if (!rc) rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0644);
    if (rc) {
        int err = store_err(rc);
        if (err == ERR_FORMAT)
            log_error("store: %s: data.mdb is not an LMDB file of a compatible version (%s)",
                      dir, mdb_strerror(rc));
        else
            log_error("store: cannot open %s: %s", dir, mdb_strerror(rc));
        if (s->env) mdb_env_close(s->env);
        pthread_rwlock_destroy(&s->resize);
        close(s->lock_fd);
        free(s->dir);
        free(s);
        return err;
    }
    int err = store_check_size(s);
    if (err) {
        store_close(s);
        return err;
    }
    /* An existing file may have been grown beyond the requested size. */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize;
    err = store_write(s, store_init_fn, NULL);
    if (err) {
        store_close(s);
        return err;
    }
    *out = s;
    return 0;
}

void store_close(Store *s)
{
    if (!s) return;
    mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->resize);
    close(s->lock_fd);
    free(s->dir);
    free(s);
}

void store_stats(Store *s, StoreStats *out)
{
    MDB_envinfo info;
    MDB_stat st;
    pthread_rwlock_rdlock(&s->resize);
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    out->map_size = s->map_size;
    out->grows = s->grows;
    out->file_bytes = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    pthread_rwlock_unlock(&s->resize);
}

int store_db_stats(Store *s, StoreDb db, StoreDbStats *out)
{
    StoreTxn *t;
    int err = store_read_begin(s, &t);
    if (err) return err;
    MDB_stat st;
    int rc = mdb_stat(t->txn, s->dbi[db], &st);
    if (rc) err = store_op_result(t, "stat", rc);
    else {
        out->entries = st.ms_entries;
        out->page_size = st.ms_psize;
        out->branch_pages = st.ms_branch_pages;
        out->leaf_pages = st.ms_leaf_pages;
        out->overflow_pages = st.ms_overflow_pages;
        out->bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
                     st.ms_psize;
    }
    store_read_end(t);
    return err;
}

/* ---- snapshots ---- */

/* store_fsync_dir makes a rename in dir durable. */
static void store_fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int store_snapshot(Store *s, const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return ERR_INVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("store: cannot create snapshot %s: %s", tmp, strerror(errno));
        return ERR_IO;
    }
    /* Shared: the copy runs its own read transaction, which must not
     * overlap a map resize. */
    pthread_rwlock_rdlock(&s->resize);
    int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&s->resize);
    int err = 0;
    if (rc) {
        log_error("store: snapshot of %s to %s failed: %s", s->dir, path, mdb_strerror(rc));
        err = store_err(rc);
    } else if (fsync(fd) != 0) {
        log_error("store: fsync %s: %s", tmp, strerror(errno));
        err = ERR_IO;
    }
    close(fd);
    if (!err && rename(tmp, path) != 0) {
        log_error("store: rename %s to %s: %s", tmp, path, strerror(errno));
        err = ERR_IO;
    }
    if (err) unlink(tmp);
    else store_fsync_dir(path);
    return err;
}

int store_restore(const char *snapshot_path, const char *dir)
{
    char dst[4096], tmp[4096];
    if ((size_t)snprintf(dst, sizeof dst, "%s/data.mdb", dir) >= sizeof dst ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/data.mdb.tmp", dir) >= sizeof tmp)
        return ERR_INVAL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_error("store: cannot create data directory %s: %s", dir, strerror(errno));
        return ERR_IO;
    }
    if (access(dst, F_OK) == 0) {
        log_error("store: %s already exists; restore into an empty directory", dst);
        return ERR_EXISTS;
    }
    int in = open(snapshot_path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        log_error("store: cannot open snapshot %s: %s", snapshot_path, strerror(errno));
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        log_error("store: cannot create %s: %s", tmp, strerror(errno));
        close(in);
        return ERR_IO;
    }
    char *buf = xmalloc(STORE_COPY_CHUNK);
    int err = 0;
    for (;;) {
        ssize_t n = read(in, buf, STORE_COPY_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            log_error("store: read %s: %s", snapshot_path, strerror(errno));
            err = ERR_IO;
            break;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                log_error("store: write %s: %s", tmp, strerror(errno));
                err = ERR_IO;
                break;
            }
            off += w;
        }
        if (err) break;
    }
    free(buf);
    close(in);
    if (!err && fsync(out) != 0) err = ERR_IO;
    close(out);
    if (!err && rename(tmp, dst) != 0) err = ERR_IO;
    if (err) unlink(tmp);
    else store_fsync_dir(dst);
    return err;
}
