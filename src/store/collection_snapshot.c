/*
 * collection_snapshot.c - one collection to a self-contained file and
 * back: collection_snapshot and collection_recover (collection.h has the
 * contract, docs/storage.md the file format).
 *
 * The file is a stream of records, not an LMDB environment: a header
 * (magic, snapshot format version, store format version), the collection's
 * name and config record, then for each collection database
 * (store.h's STORE_DB_FIRST_COLLECTION_DB on) its name and every record of
 * the collection with the cid stripped from the key, and an end record
 * with the record count and the SHA-256 of everything before it. Why a
 * stream rather than a small compacted LMDB copy: a recover reads files
 * that came from a client (an upload), and LMDB trusts its pages (a
 * damaged file can crash the reader), while a stream is checked record by
 * record and as a whole before anything it says is made visible. It is
 * also smaller (no page slack) and written and read strictly sequentially.
 * Databases are named in the file, not numbered, so adding a database
 * never reinterprets an older file; one this build does not know is
 * refused by name.
 *
 * Snapshot. Under the write lock: the collection's unsaved graph changes
 * are saved (so the file's graph is the live one node for node, with no
 * replay needed after a recover) and a read transaction begins; then the
 * lock is released and the records are streamed from that transaction
 * while writers go on. A long read transaction pins the pages it sees; the
 * store grows instead of reusing them meanwhile, and a map resize waits
 * for it (as for store_snapshot).
 *
 * Recover, in four steps, so that the old collection stays served and
 * untouched until one commit replaces it:
 *   1. stage: the records go under a fresh cid, in transactions of about
 *      SNAP_STAGE_BYTES each (so the writer thread's commits interleave
 *      with them; no lock of the engine is held). The first of them also
 *      writes a "drop" marker for the new cid in the meta database. The
 *      end record's checksum is verified before step 2: a damaged or
 *      truncated file stops here.
 *   2. load: the staged collection is loaded like any collection at open
 *      (coll_load: graphs read back, not rebuilt; pending nodes replayed),
 *      which also validates every record it reads.
 *   3. swap, under the write lock, in one transaction: the collection
 *      name's record points at the new cid, the new cid's drop marker
 *      goes, and the old cid (if any) gets one; then the new collection
 *      replaces the old one in memory.
 *   4. drop: the old cid's records are deleted in short transactions, and
 *      its marker last.
 * A failure before 3 drops the staged cid instead. A crash at any point
 * leaves markers naming exactly the dead cids, which the next open deletes
 * (coll_snapshot_cleanup): the collection is then either wholly old or
 * wholly new.
 */
#include "store/collection.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* The file: "VITRSNAP", u32 snapshot format version, u32 store format
 * version, u64 reserved (0); then records, each a tag byte and its fields
 * (integers little-endian). */
#define SNAP_MAGIC "VITRSNAP"
#define SNAP_HEADER_LEN 24
#define SNAP_TAG_NAME 0x01   /* u16 length, the collection's name */
#define SNAP_TAG_CONFIG 0x02 /* u32 length, the config record (after the cid) */
#define SNAP_TAG_DB 0x03     /* u8 length, a database name: the records after it are its */
#define SNAP_TAG_RECORD 0x04 /* u16 key length, u32 value length, key (no cid), value */
#define SNAP_TAG_END 0xFF    /* u64 records, then SHA-256 of every byte before the digest */
/* Bounds a reader holds a file to (an LMDB key is at most 511 bytes). */
#define SNAP_MAX_KEY (511 - 4)
#define SNAP_MAX_NAME 255
#define SNAP_MAX_CONFIG (1 << 20)
/* I/O buffer. */
#define SNAP_IO_CHUNK (1 << 20)
/* Bytes of records per staging transaction of a recover. */
#define SNAP_STAGE_BYTES (16u << 20)
/* Keys deleted per transaction when a dead cid's records go. */
#define SNAP_DROP_KEYS 20000
/* Meta key of a dead cid: this prefix + the cid (big-endian). */
#define SNAP_META_DROP "drop:"
#define SNAP_META_DROP_LEN 5

/* ---- writing ---- */

typedef struct {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t used;
    uint64_t off; /* bytes written so far (including the buffer) */
    Sha256 sha;   /* of those bytes */
    int err;
} SnapOut;

static void out_flush(SnapOut *o)
{
    size_t done = 0;
    while (!o->err && done < o->used) {
        ssize_t w = write(o->fd, o->buf + done, o->used - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            log_error("snapshot: write %s: %s", o->path, strerror(errno));
            o->err = errno == ENOSPC ? ERR_FULL : ERR_IO;
            break;
        }
        done += (size_t)w;
    }
    o->used = 0;
}

static void out_bytes(SnapOut *o, const void *p, size_t n)
{
    sha256_update(&o->sha, p, n);
    o->off += n;
    const uint8_t *b = p;
    while (n && !o->err) {
        size_t take = MIN(n, SNAP_IO_CHUNK - o->used);
        memcpy(o->buf + o->used, b, take);
        o->used += take;
        b += take;
        n -= take;
        if (o->used == SNAP_IO_CHUNK) out_flush(o);
    }
}

static void out_u8(SnapOut *o, uint8_t v) { out_bytes(o, &v, 1); }

static void out_u16(SnapOut *o, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    out_bytes(o, b, 2);
}

static void out_u32(SnapOut *o, uint32_t v)
{
    uint8_t b[4];
    store_put_le32(b, v);
    out_bytes(o, b, 4);
}

static void out_u64(SnapOut *o, uint64_t v)
{
    uint8_t b[8];
    store_put_le64(b, v);
    out_bytes(o, b, 8);
}

/* fsync_parent makes a rename inside path's directory durable. */
static void fsync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* snapshot_stream writes the file from txn, which sees collection cid
 * under name. */
static int snapshot_stream(SnapOut *o, StoreTxn *txn, const char *name, uint32_t cid,
                           uint64_t *points, char *err, size_t errlen)
{
    Slice rec;
    int e = store_get(txn, STORE_DB_COLLECTIONS, name, strlen(name), &rec);
    if (e || rec.len < 5 || store_get_le32((const uint8_t *)rec.ptr) != cid)
        return err_set(err, errlen, e ? e : ERR_STORE,
                       "collection %s: its record changed under the snapshot", name);
    uint8_t head[SNAP_HEADER_LEN] = { 0 };
    memcpy(head, SNAP_MAGIC, 8);
    store_put_le32(head + 8, COLLECTION_SNAPSHOT_VERSION);
    store_put_le32(head + 12, STORE_FORMAT_VERSION);
    out_bytes(o, head, sizeof head);
    out_u8(o, SNAP_TAG_NAME);
    out_u16(o, (uint16_t)strlen(name));
    out_bytes(o, name, strlen(name));
    out_u8(o, SNAP_TAG_CONFIG);
    out_u32(o, (uint32_t)(rec.len - 4));
    out_bytes(o, rec.ptr + 4, rec.len - 4);

    uint8_t prefix[STORE_KEY_MAX];
    size_t plen = store_key_cid(prefix, cid);
    uint64_t n = 0;
    *points = 0;
    for (int d = STORE_DB_FIRST_COLLECTION_DB; d < STORE_DB_COUNT && !o->err; d++) {
        const char *dbname = store_db_name((StoreDb)d);
        out_u8(o, SNAP_TAG_DB);
        out_u8(o, (uint8_t)strlen(dbname));
        out_bytes(o, dbname, strlen(dbname));
        StoreCursor *cur;
        if ((e = store_cursor_open(txn, (StoreDb)d, &cur))) return e;
        Slice k, v;
        for (e = store_cursor_seek(cur, prefix, plen, &k, &v); e == 0 && !o->err;
             e = store_cursor_next(cur, &k, &v)) {
            if (k.len < plen || memcmp(k.ptr, prefix, plen) != 0) break;
            if (k.len - plen > SNAP_MAX_KEY || v.len > UINT32_MAX) {
                store_cursor_close(cur);
                return err_set(err, errlen, ERR_TOOLARGE, "a %s record is too large to snapshot",
                               dbname);
            }
            out_u8(o, SNAP_TAG_RECORD);
            out_u16(o, (uint16_t)(k.len - plen));
            out_u32(o, (uint32_t)v.len);
            out_bytes(o, k.ptr + plen, k.len - plen);
            out_bytes(o, v.ptr, v.len);
            n++;
            if (d == STORE_DB_POINTS) (*points)++;
        }
        store_cursor_close(cur);
        if (e && e != ERR_NOTFOUND)
            return err_set(err, errlen, e, "reading %s: %s", dbname, err_str(e));
    }
    out_u8(o, SNAP_TAG_END);
    out_u64(o, n);
    Sha256 content = o->sha;
    uint8_t digest[SHA256_DIGEST_LEN];
    sha256_final(&content, digest);
    out_bytes(o, digest, sizeof digest);
    return 0;
}

int collection_snapshot(Db *db, const char *name, const char *path, CollectionSnapshotInfo *info,
                        char *err, size_t errlen)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return err_set(err, errlen, ERR_INVAL, "snapshot path too long");

    /* A settled, saved graph and the read transaction, under the lock. */
    pthread_mutex_lock(&db->write);
    Collection *c = coll_db_find(db, name);
    if (!c) {
        pthread_mutex_unlock(&db->write);
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!", name);
    }
    char *real = xstrdup(c->name);
    uint32_t cid = c->cid;
    /* If the save fails the file still holds the pending markers, which a
     * recover replays: consistent, only not node for node. */
    if (coll_graph_dirty(c)) coll_graph_save(db, c);
    StoreTxn *txn;
    int e = store_read_begin(db->store, &txn);
    pthread_mutex_unlock(&db->write);
    if (e) {
        free(real);
        return err_set(err, errlen, e, "cannot read the store: %s", err_str(e));
    }

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int en = errno;
        store_read_end(txn);
        free(real);
        log_error("snapshot: cannot create %s: %s", tmp, strerror(en));
        return err_set(err, errlen, ERR_IO, "cannot create %s: %s", tmp, strerror(en));
    }
    double t0 = now_seconds();
    SnapOut o = { .fd = fd, .path = tmp, .buf = xmalloc(SNAP_IO_CHUNK) };
    sha256_init(&o.sha);
    uint64_t points = 0;
    e = snapshot_stream(&o, txn, real, cid, &points, err, errlen);
    store_read_end(txn);
    if (!e) out_flush(&o);
    if (!e && o.err) e = err_set(err, errlen, o.err, "cannot write %s: %s", tmp, err_str(o.err));
    if (!e && fsync(fd) != 0)
        e = err_set(err, errlen, ERR_IO, "fsync %s: %s", tmp, strerror(errno));
    close(fd);
    if (!e && rename(tmp, path) != 0)
        e = err_set(err, errlen, ERR_IO, "rename %s: %s", tmp, strerror(errno));
    if (e) {
        unlink(tmp);
    } else {
        fsync_parent(path);
        if (info) {
            info->size = o.off;
            info->points = points;
            sha256_final(&o.sha, info->sha256);
        }
        log_info("collection %s: snapshot of %llu points, %llu bytes, to %s in %.3f s", real,
                 (unsigned long long)points, (unsigned long long)o.off, path, now_seconds() - t0);
    }
    free(o.buf);
    free(real);
    return e;
}

/* ---- reading ---- */

typedef struct {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap, pos, len; /* buf[pos..len) is read and not yet consumed */
    uint64_t off;         /* file offset of buf[pos] */
    uint64_t size;        /* of the file */
    Sha256 sha;           /* of the bytes consumed */
    char *err;
    size_t errlen;
} SnapIn;

/* A position to come back to when a staging transaction is retried. */
typedef struct {
    uint64_t off;
    Sha256 sha;
} SnapMark;

static void in_mark(const SnapIn *r, SnapMark *m)
{
    m->off = r->off;
    m->sha = r->sha;
}

static int in_rewind(SnapIn *r, const SnapMark *m)
{
    if (m->off == r->off) return 0;
    if (lseek(r->fd, (off_t)m->off, SEEK_SET) < 0)
        return err_set(r->err, r->errlen, ERR_IO, "seek %s: %s", r->path, strerror(errno));
    r->off = m->off;
    r->sha = m->sha;
    r->pos = r->len = 0;
    return 0;
}

static int in_truncated(SnapIn *r)
{
    return err_set(r->err, r->errlen, ERR_FORMAT,
                   "%s is truncated: it ends at byte %llu, inside a record (an incomplete "
                   "copy or upload?)",
                   r->path, (unsigned long long)r->size);
}

/* in_take hands out the next n bytes of the file (valid until the next
 * call) and hashes them. The caller has checked n against the file size,
 * so a corrupt length cannot make it allocate more than the file holds. */
static int in_take(SnapIn *r, size_t n, const uint8_t **out)
{
    if (n > r->size - r->off) return in_truncated(r);
    if (r->len - r->pos < n) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        if (n > r->cap) {
            r->cap = n;
            r->buf = xrealloc(r->buf, r->cap);
        }
        while (r->len < n) {
            ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0)
                return err_set(r->err, r->errlen, ERR_IO, "read %s: %s", r->path,
                               strerror(errno));
            if (got == 0) return in_truncated(r); /* shrank since fstat */
            r->len += (size_t)got;
        }
    }
    *out = r->buf + r->pos;
    r->pos += n;
    r->off += n;
    sha256_update(&r->sha, *out, n);
    return 0;
}

static int in_u8(SnapIn *r, uint8_t *v)
{
    const uint8_t *p;
    int e = in_take(r, 1, &p);
    if (!e) *v = p[0];
    return e;
}

static int in_u16(SnapIn *r, uint16_t *v)
{
    const uint8_t *p;
    int e = in_take(r, 2, &p);
    if (!e) *v = (uint16_t)(p[0] | p[1] << 8);
    return e;
}

static int in_u32(SnapIn *r, uint32_t *v)
{
    const uint8_t *p;
    int e = in_take(r, 4, &p);
    if (!e) *v = store_get_le32(p);
    return e;
}

static int in_damaged(SnapIn *r, const char *what)
{
    return err_set(r->err, r->errlen, ERR_FORMAT, "%s is damaged: %s at byte %llu", r->path, what,
                   (unsigned long long)r->off);
}

/* in_header checks the header and reads the name and config records.
 * *rec gets the config record behind a zero u32 (the collections record
 * layout, cid to be filled in), malloc'd. */
static int in_header(SnapIn *r, char **name, uint8_t **rec, size_t *rec_len,
                     uint32_t *store_format)
{
    const uint8_t *p;
    if (r->size < SNAP_HEADER_LEN || in_take(r, SNAP_HEADER_LEN, &p) || memcmp(p, SNAP_MAGIC, 8))
        return err_set(r->err, r->errlen, ERR_FORMAT,
                       "%s is not a vitrine collection snapshot (its first bytes are not "
                       "\"" SNAP_MAGIC "\")",
                       r->path);
    uint32_t version = store_get_le32(p + 8), store_version = store_get_le32(p + 12);
    /* An older store format's records are staged as they are and
     * migrated before the load (collection_recover). */
    if (version != COLLECTION_SNAPSHOT_VERSION || store_version < STORE_FORMAT_OLDEST ||
        store_version > STORE_FORMAT_VERSION)
        return err_set(r->err, r->errlen, ERR_FORMAT,
                       "%s is a collection snapshot of format %u (store format %u); this build "
                       "reads format %u (store formats %u to %u)",
                       r->path, version, store_version, COLLECTION_SNAPSHOT_VERSION,
                       STORE_FORMAT_OLDEST, STORE_FORMAT_VERSION);
    *store_format = store_version;
    uint8_t tag;
    uint16_t nl;
    int e = in_u8(r, &tag);
    if (!e && tag != SNAP_TAG_NAME) return in_damaged(r, "no name record");
    if (!e) e = in_u16(r, &nl);
    if (!e && nl > SNAP_MAX_NAME) return in_damaged(r, "name too long");
    if (!e) e = in_take(r, nl, &p);
    if (e) return e;
    *name = xstrndup((const char *)p, nl);
    uint32_t cl;
    e = in_u8(r, &tag);
    if (!e && tag != SNAP_TAG_CONFIG) e = in_damaged(r, "no config record");
    if (!e) e = in_u32(r, &cl);
    if (!e && cl > SNAP_MAX_CONFIG) e = in_damaged(r, "config record too long");
    if (!e) e = in_take(r, cl, &p);
    if (e) {
        free(*name);
        *name = NULL;
        return e;
    }
    *rec_len = 4 + (size_t)cl;
    *rec = xcalloc(1, *rec_len);
    memcpy(*rec + 4, p, cl);
    return 0;
}

/* ---- recover: staging ---- */

static size_t drop_key(uint8_t out[SNAP_META_DROP_LEN + 4], uint32_t cid)
{
    memcpy(out, SNAP_META_DROP, SNAP_META_DROP_LEN);
    store_put_be32(out + SNAP_META_DROP_LEN, cid);
    return SNAP_META_DROP_LEN + 4;
}

typedef struct {
    SnapIn *in;
    SnapMark start; /* where this transaction's records begin */
    uint32_t cid;   /* 0 until the first staging transaction committed */
    uint32_t new_cid;
    int have_db, done;
    StoreDb db;
    uint64_t records, points;
    /* what a transaction changes, saved so a retry starts over */
    int start_have_db;
    StoreDb start_db;
    uint64_t start_records, start_points;
} Stage;

/* stage_end checks the end record: the count, the digest of every byte
 * before it, and nothing after it. */
static int stage_end(Stage *st)
{
    SnapIn *r = st->in;
    const uint8_t *p;
    int e = in_take(r, 8, &p);
    if (e) return e;
    if (store_get_le64(p) != st->records) return in_damaged(r, "wrong record count");
    Sha256 content = r->sha;
    uint8_t want[SHA256_DIGEST_LEN];
    sha256_final(&content, want);
    if ((e = in_take(r, SHA256_DIGEST_LEN, &p))) return e;
    if (memcmp(p, want, SHA256_DIGEST_LEN))
        return err_set(r->err, r->errlen, ERR_FORMAT,
                       "%s is damaged: the checksum of its contents does not match", r->path);
    if (r->off != r->size) return in_damaged(r, "bytes after the end record");
    st->done = 1;
    return 0;
}

static int stage_fn(StoreTxn *txn, void *ctx)
{
    Stage *st = ctx;
    SnapIn *r = st->in;
    int e = in_rewind(r, &st->start);
    if (e) return e;
    st->have_db = st->start_have_db;
    st->db = st->start_db;
    st->records = st->start_records;
    st->points = st->start_points;
    st->new_cid = st->cid;
    st->done = 0;
    if (!st->cid) {
        /* The first transaction takes a cid as collection_create does,
         * and marks it dead until the swap says otherwise. */
        Slice v;
        uint32_t cid = 1;
        if (store_get(txn, STORE_DB_META, "next_cid", 8, &v) == 0 && v.len == 4)
            cid = store_get_le32((const uint8_t *)v.ptr);
        uint8_t next[4], mk[SNAP_META_DROP_LEN + 4];
        store_put_le32(next, cid + 1);
        if ((e = store_put(txn, STORE_DB_META, "next_cid", 8, next, 4))) return e;
        if ((e = store_put(txn, STORE_DB_META, mk, drop_key(mk, cid), "", 0))) return e;
        st->new_cid = cid;
    }
    uint8_t key[4 + SNAP_MAX_KEY];
    store_put_be32(key, st->new_cid);
    size_t bytes = 0;
    while (bytes < SNAP_STAGE_BYTES && !st->done) {
        uint8_t tag;
        const uint8_t *p;
        if ((e = in_u8(r, &tag))) return e;
        switch (tag) {
        case SNAP_TAG_DB: {
            uint8_t nl;
            if ((e = in_u8(r, &nl)) || (e = in_take(r, nl, &p))) return e;
            StoreDb d;
            if (store_db_by_name((const char *)p, nl, &d) || d < STORE_DB_FIRST_COLLECTION_DB)
                return err_set(r->err, r->errlen, ERR_FORMAT,
                               "%s holds a database \"%.*s\" this build does not know (a "
                               "newer vitrine's snapshot?)",
                               r->path, (int)nl, (const char *)p);
            st->db = d;
            st->have_db = 1;
            break;
        }
        case SNAP_TAG_RECORD: {
            uint16_t kl;
            uint32_t vl;
            if ((e = in_u16(r, &kl)) || (e = in_u32(r, &vl))) return e;
            if (!st->have_db) return in_damaged(r, "a record outside any database");
            if (kl > SNAP_MAX_KEY) return in_damaged(r, "key too long");
            if ((e = in_take(r, kl, &p))) return e;
            memcpy(key + 4, p, kl);
            if ((e = in_take(r, vl, &p))) return e;
            /* The new cid is the highest, and the file is in key order. */
            if ((e = store_put_append(txn, st->db, key, 4 + (size_t)kl, p, vl))) return e;
            st->records++;
            if (st->db == STORE_DB_POINTS) st->points++;
            bytes += (size_t)kl + vl + 8;
            break;
        }
        case SNAP_TAG_END:
            if ((e = stage_end(st))) return e;
            break;
        default: return in_damaged(r, "unknown record type");
        }
    }
    return 0;
}

/* ---- recover: dropping a dead cid ---- */

typedef struct {
    uint32_t cid;
    int done;
} DropCtx;

static int drop_fn(StoreTxn *txn, void *ctx)
{
    DropCtx *x = ctx;
    uint8_t prefix[STORE_KEY_MAX];
    size_t plen = store_key_cid(prefix, x->cid), budget = SNAP_DROP_KEYS;
    x->done = 0;
    for (int d = STORE_DB_FIRST_COLLECTION_DB; d < STORE_DB_COUNT; d++) {
        size_t n = 0;
        int e = store_del_prefix_max(txn, (StoreDb)d, prefix, plen, budget, &n);
        if (e) return e;
        budget -= n;
        if (!budget) return 0; /* more may be left: another transaction */
    }
    int e = coll_ops_del(txn, x->cid);
    if (e) return e;
    uint8_t mk[SNAP_META_DROP_LEN + 4];
    e = store_del(txn, STORE_DB_META, mk, drop_key(mk, x->cid));
    if (e && e != ERR_NOTFOUND) return e;
    x->done = 1;
    return 0;
}

/* drop_cid deletes every record of a dead cid, then its marker. On
 * failure the marker stays and the next open finishes the job. */
static int drop_cid(Db *db, uint32_t cid)
{
    DropCtx x = { cid, 0 };
    int e = 0;
    while (!x.done && !e) e = store_write(db->store, drop_fn, &x);
    if (e) log_error("store: deleting the records of dead collection id %u failed (%s); the next "
                     "open retries", cid, err_str(e));
    return e;
}

int coll_snapshot_cleanup(Db *db)
{
    StoreTxn *txn;
    int e = store_read_begin(db->store, &txn);
    if (e) return e;
    uint32_t *cids = NULL;
    size_t n = 0, cap = 0;
    StoreCursor *cur;
    if ((e = store_cursor_open(txn, STORE_DB_META, &cur))) {
        store_read_end(txn);
        return e;
    }
    Slice k, v;
    for (e = store_cursor_seek(cur, SNAP_META_DROP, SNAP_META_DROP_LEN, &k, &v); e == 0;
         e = store_cursor_next(cur, &k, &v)) {
        if (k.len != SNAP_META_DROP_LEN + 4 || memcmp(k.ptr, SNAP_META_DROP, SNAP_META_DROP_LEN))
            break;
        coll_grow_u32(&cids, &cap, n + 1);
        cids[n++] = store_get_be32((const uint8_t *)k.ptr + SNAP_META_DROP_LEN);
    }
    store_cursor_close(cur);
    store_read_end(txn);
    e = 0;
    for (size_t i = 0; i < n && !e; i++) {
        int live = 0;
        for (size_t j = 0; j < db->n_colls; j++) live |= db->colls[j]->cid == cids[i];
        if (live) {
            /* Never: markers name only cids no record points at. Keep the
             * data and say so rather than delete a collection. */
            log_error("store: collection id %u is marked dead but is in use; keeping it", cids[i]);
            continue;
        }
        log_info("store: deleting the records of dead collection id %u", cids[i]);
        e = drop_cid(db, cids[i]);
    }
    free(cids);
    return e;
}

/* ---- recover: the swap ---- */

typedef struct {
    const char *name;
    uint32_t new_cid, old_cid; /* old_cid 0: no collection had the name */
    const uint8_t *rec;        /* u32 new cid + config record */
    size_t rec_len;
} SwapCtx;

static int swap_fn(StoreTxn *txn, void *ctx)
{
    SwapCtx *x = ctx;
    uint8_t mk[SNAP_META_DROP_LEN + 4];
    int e = store_put(txn, STORE_DB_COLLECTIONS, x->name, strlen(x->name), x->rec, x->rec_len);
    if (!e) e = store_del(txn, STORE_DB_META, mk, drop_key(mk, x->new_cid));
    if (!e && x->old_cid) e = store_put(txn, STORE_DB_META, mk, drop_key(mk, x->old_cid), "", 0);
    return e;
}

/* swap makes c (loaded from new_cid) collection name, replacing the one
 * the name (or alias) names now. *old_cid gets the replaced cid (0: none). */
static int swap(Db *db, const char *name, Collection *c, const uint8_t *rec, size_t rec_len,
                uint32_t *old_cid, char *err, size_t errlen)
{
    pthread_mutex_lock(&db->write);
    Collection *old = coll_db_find(db, name);
    const char *real = old ? old->name : name;
    SwapCtx x = { real, c->cid, old ? old->cid : 0, rec, rec_len };
    int e = store_write(db->store, swap_fn, &x);
    if (e) {
        pthread_mutex_unlock(&db->write);
        return err_set(err, errlen, e, "storage error: %s", err_str(e));
    }
    free(c->name);
    c->name = xstrdup(real);
    /* Exclusive: every reader of the old collection has finished. */
    pthread_rwlock_wrlock(&db->lock);
    size_t i = 0;
    while (i < db->n_colls && db->colls[i] != old) i++;
    if (i == db->n_colls) {
        if (db->n_colls == db->cap_colls) {
            db->cap_colls = db->cap_colls ? db->cap_colls * 2 : 8;
            db->colls = xrealloc(db->colls, db->cap_colls * sizeof *db->colls);
        }
        db->n_colls++;
    }
    db->colls[i] = c;
    pthread_rwlock_unlock(&db->lock);
    *old_cid = x.old_cid;
    coll_free(old);
    /* A rebuild the snapshot owed starts now that c is the collection
     * (collection_optimize.c), not while it was staged. */
    coll_optimize_resume(db, c);
    coll_blocks_wake(db, c);
    pthread_mutex_unlock(&db->write);
    return 0;
}

int collection_recover(Db *db, const char *name, const char *path, CollectionSnapshotInfo *info,
                       char *err, size_t errlen)
{
    char own[256];
    if (!err || !errlen) {
        err = own; /* the messages below need somewhere to go */
        errlen = sizeof own;
    }
    err[0] = '\0';
    if (!coll_name_valid(name))
        return err_set(err, errlen, ERR_INVAL,
                       "collection name must have 1..%d bytes and none of / \\ < > : \" | ? *",
                       COLLECTION_MAX_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int en = errno;
        return err_set(err, errlen, en == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open %s: %s",
                       path, strerror(en));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(err, errlen, ERR_FORMAT, "%s is not a regular file", path);
    }
    double t0 = now_seconds();
    SnapIn r = { .fd = fd, .path = path, .cap = SNAP_IO_CHUNK, .size = (uint64_t)sb.st_size,
                 .err = err, .errlen = errlen };
    r.buf = xmalloc(r.cap);
    sha256_init(&r.sha);
    char *src_name = NULL;
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    Collection *c = NULL;
    Stage st = { .in = &r };
    uint32_t store_format = 0;
    CollectionConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    int e = in_header(&r, &src_name, &rec, &rec_len, &store_format);
    if (!e) {
        /* The config record must parse before anything is staged. */
        uint32_t cid;
        int64_t created;
        if (coll_config_record_parse(name, (Slice){ (const char *)rec, rec_len }, &cid, &cfg,
                                     &created))
            e = err_set(err, errlen, ERR_FORMAT, "%s: the collection config in it is invalid",
                        path);
    }

    /* 1. Stage under a fresh cid. */
    in_mark(&r, &st.start);
    while (!e && !st.done) {
        e = store_write(db->store, stage_fn, &st);
        if (e) break;
        st.cid = st.new_cid;
        in_mark(&r, &st.start);
        st.start_have_db = st.have_db;
        st.start_db = st.db;
        st.start_records = st.records;
        st.start_points = st.points;
    }
    if (e && !err[0]) err_set(err, errlen, e, "storage error: %s", err_str(e));

    /* A snapshot of an older store format: its dense vectors move into
     * blocks under the staged cid (a crash meanwhile drops the cid). */
    if (!e && store_format < STORE_FORMAT_VERSION) {
        CollMigrate mig = { 0 };
        e = coll_migrate_collection(db, st.cid, &cfg, &mig);
        if (e) err_set(err, errlen, e, "%s: migrating its vectors from store format %u failed (%s)",
                       path, store_format, err_str(e));
        else
            log_info("collection %s: %s is of store format %u: %zu vectors packed into blocks",
                     name, path, store_format, mig.moved);
    }

    double t_staged = now_seconds();
    /* 2. Load it. */
    if (!e) {
        store_put_le32(rec, st.cid);
        e = coll_load(db, name, (Slice){ (const char *)rec, rec_len }, &c);
        if (e)
            err_set(err, errlen, e, "%s: its records do not load (%s); see the log", path,
                    err_str(e));
    }

    double t_loaded = now_seconds();
    /* 3. Swap; 4. drop what is dead. */
    uint32_t old_cid = 0;
    if (!e && (e = swap(db, name, c, rec, rec_len, &old_cid, err, errlen))) coll_free(c);
    if (e) {
        if (st.cid) drop_cid(db, st.cid);
    } else {
        if (old_cid) drop_cid(db, old_cid);
        if (info) {
            info->size = r.size;
            info->points = st.points;
            sha256_final(&r.sha, info->sha256);
        }
        log_info("collection %s: recovered %llu points from %s (snapshot of \"%s\") in %.3f s "
                 "(staged %.3f s, loaded %.3f s, swapped and dropped %.3f s)",
                 name, (unsigned long long)st.points, path, src_name, now_seconds() - t0,
                 t_staged - t0, t_loaded - t_staged, now_seconds() - t_loaded);
    }
    free(src_name);
    free(rec);
    free(r.buf);
    close(fd);
    return e;
}
