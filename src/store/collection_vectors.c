/*
 * collection_vectors.c - dense vectors on disk: the block records of
 * STORE_DB_DENSE, the one accessor every reader goes through
 * (coll_vector_get), their writes, and the migration of a format 1
 * directory (one record per vector) into blocks.
 *
 * Why blocks. A 512-d float32 vector is 2048 bytes: too big for an LMDB
 * leaf (a node holds at most about half a page), so in a record of its
 * own it takes an overflow page of 4096 bytes, the page header included:
 * the vectors' file was twice the vectors. A block holds the vectors of K
 * consecutive nodes in one value, so the only slack is the part of the
 * block's last page it does not fill, and K is chosen so that a full
 * block fills its pages almost exactly (coll_block_slots): 63 vectors of
 * 2048 bytes plus the headers are 32 pages, 1.016x the floats.
 *   The rejected alternatives: splitting a vector into leaf-sized pieces
 *   (several keys per vector, leaves half full after splits, and no
 *   zero-copy read), and fixed blocks of the full K slots from the first
 *   node (a collection of 3 points would take 128 KiB): a block here is
 *   only as long as its highest slot.
 *
 * Block record (integers little-endian), 16 bytes of header so the floats
 * stay 16-byte aligned in an overflow page (whose data starts 16 bytes
 * into a page-aligned page):
 *   u8 tag 0x01, u8 0, u16 K (slots per block of this vector), u32 0,
 *   u64 present: bit s set when slot s holds a vector,
 *   float32[n_slots * dim], n_slots = (length - 16) / (dim * 4), 1..K.
 * Node n lives in block n / K, slot n % K. A slot is present exactly when
 * format 1 had the node's record: from the first write of the vector
 * until the collection is dropped (a deleted point's vector stays, as the
 * graph keeps routing through its node until the node is reused).
 *
 * Writes rewrite a block whole (read it, change the slots, put it back):
 * every vector a write operation stores is grouped by block first, so a
 * batch of 1000 new points rewrites about 17 blocks, not 1000.
 */
#include "store/collection.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* A page of LMDB's overflow chain starts with this header (PAGEHDRSZ). */
#define COLL_LMDB_PAGE_HEADER 16
/* Format 1 vectors moved per migration transaction, in bytes of floats. */
#define COLL_MIGRATE_CHUNK_BYTES ((size_t)16 << 20)

uint32_t coll_block_slots(uint32_t dim)
{
    size_t vb = (size_t)dim * sizeof(float);
    if (!vb) return 1;
    size_t k = (COLL_BLOCK_TARGET - COLL_BLOCK_HEADER - COLL_LMDB_PAGE_HEADER) / vb;
    if (k < 1) k = 1;
    if (k > COLL_BLOCK_MAX_SLOTS) k = COLL_BLOCK_MAX_SLOTS;
    return (uint32_t)k;
}

int coll_block_parse(uint32_t dim, Slice val, CollBlock *out)
{
    const uint8_t *p = (const uint8_t *)val.ptr;
    size_t vb = (size_t)dim * sizeof(float);
    uint32_t k = coll_block_slots(dim);
    if (val.len < COLL_BLOCK_HEADER + vb || (val.len - COLL_BLOCK_HEADER) % vb ||
        p[0] != COLL_BLOCK_TAG || (p[2] | (uint32_t)p[3] << 8) != k)
        return ERR_FORMAT;
    size_t n = (val.len - COLL_BLOCK_HEADER) / vb;
    uint64_t present = store_get_le64(p + 8);
    if (n > k || (n < 64 && present >> n)) return ERR_FORMAT;
    out->slots = k;
    out->n_slots = (uint32_t)n;
    out->present = present;
    out->data = p + COLL_BLOCK_HEADER;
    return 0;
}

const float *coll_block_vector(const CollBlock *b, uint32_t dim, uint32_t slot, float *scratch)
{
    const uint8_t *p = b->data + (size_t)slot * dim * sizeof(float);
    /* Overflow pages keep the floats aligned; a small block living in a
     * leaf page is only 2-byte aligned, and is copied. */
    if (((uintptr_t)p & (sizeof(float) - 1)) == 0) return (const float *)(const void *)p;
    memcpy(scratch, p, (size_t)dim * sizeof(float));
    return scratch;
}

int coll_vector_get(Collection *c, StoreTxn *txn, int v, uint32_t node, float *scratch,
                    const float **out)
{
    uint32_t dim = c->config.vectors[v].size, k = coll_block_slots(dim);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = store_key_node(key, c->cid, (uint16_t)v, node / k);
    Slice val;
    int err = store_get(txn, STORE_DB_DENSE, key, kl, &val);
    if (err) return err;
    CollBlock b;
    if (coll_block_parse(dim, val, &b)) {
        log_error("collection %s: the vector block of node %u (vector %d) is malformed", c->name,
                  node, v);
        return ERR_FORMAT;
    }
    uint32_t slot = node % k;
    if (slot >= b.n_slots || !(b.present >> slot & 1)) return ERR_NOTFOUND;
    *out = coll_block_vector(&b, dim, slot, scratch);
    return 0;
}

static int cmp_put(const void *a, const void *b)
{
    const CollVecPut *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int coll_blocks_put(StoreTxn *txn, uint32_t cid, int v, uint32_t dim, CollVecPut *puts, size_t n,
                    CollBlockBuf *buf)
{
    size_t vb = (size_t)dim * sizeof(float);
    uint32_t k = coll_block_slots(dim);
    size_t need = COLL_BLOCK_HEADER + (size_t)k * vb;
    if (buf->cap < need) {
        free(buf->p);
        buf->p = xmalloc(need);
        buf->cap = need;
    }
    for (size_t i = 0; i < n; i++) puts[i].seq = (uint32_t)i;
    qsort(puts, n, sizeof *puts, cmp_put); /* by node, then in order: the last write wins */
    uint8_t key[STORE_KEY_MAX];
    for (size_t i = 0, j; i < n; i = j) {
        uint32_t block = puts[i].node / k;
        for (j = i; j < n && puts[j].node / k == block; j++) {}
        size_t kl = store_key_node(key, cid, (uint16_t)v, block);
        Slice old;
        uint32_t n_old = 0;
        uint64_t present = 0;
        int err = store_get(txn, STORE_DB_DENSE, key, kl, &old);
        if (err == 0) {
            CollBlock b;
            if (coll_block_parse(dim, old, &b)) {
                log_error("store: collection %u: vector %d: block %u is malformed", cid, v, block);
                return ERR_FORMAT;
            }
            n_old = b.n_slots;
            present = b.present;
            /* Copied out first: the put below may reuse the old pages. */
            memcpy(buf->p + COLL_BLOCK_HEADER, b.data, (size_t)n_old * vb);
        } else if (err != ERR_NOTFOUND) {
            return err;
        }
        uint32_t n_new = MAX(n_old, puts[j - 1].node % k + 1);
        memset(buf->p + COLL_BLOCK_HEADER + (size_t)n_old * vb, 0, (size_t)(n_new - n_old) * vb);
        for (size_t x = i; x < j; x++) {
            uint32_t slot = puts[x].node % k;
            memcpy(buf->p + COLL_BLOCK_HEADER + (size_t)slot * vb, puts[x].vec, vb);
            present |= (uint64_t)1 << slot;
        }
        memset(buf->p, 0, COLL_BLOCK_HEADER);
        buf->p[0] = COLL_BLOCK_TAG;
        buf->p[2] = (uint8_t)(k & 0xff);
        buf->p[3] = (uint8_t)(k >> 8);
        store_put_le64(buf->p + 8, present);
        err = store_put(txn, STORE_DB_DENSE, key, kl, buf->p, COLL_BLOCK_HEADER + (size_t)n_new * vb);
        if (err) return err;
    }
    return 0;
}

int coll_vectors_put(StoreTxn *txn, Collection *c, int v, CollVecPut *puts, size_t n)
{
    if (!n) return 0;
    return coll_blocks_put(txn, c->cid, v, c->config.vectors[v].size, puts, n, &c->blocks);
}

/* ---- format 1 -> 2 ---- */

typedef struct {
    uint32_t cid;
    int v;
    uint32_t dim;
    size_t chunk; /* vectors per transaction */
    float *vecs;  /* [chunk * dim] */
    CollVecPut *puts;
    CollBlockBuf buf;
    size_t moved; /* by the last committed transaction */
} Migrate;

/* migrate_fn moves the first chunk of vector v's format 1 records into
 * blocks and deletes them, in one transaction: a crash leaves every
 * vector either in its old record or in its block, never both lost, and
 * an open after it goes on where this stopped (a block being merged,
 * not overwritten). */
static int migrate_fn(StoreTxn *txn, void *ctx)
{
    Migrate *m = ctx;
    m->moved = 0;
    uint8_t prefix[STORE_KEY_MAX];
    size_t pl = store_key_index(prefix, m->cid, (uint16_t)m->v);
    StoreCursor *cur;
    int err = store_cursor_open(txn, STORE_DB_VECTORS, &cur);
    if (err) return err;
    Slice k, val;
    size_t n = 0, vb = (size_t)m->dim * sizeof(float);
    int e;
    for (e = store_cursor_seek(cur, prefix, pl, &k, &val); e == 0 && n < m->chunk;
         e = store_cursor_next(cur, &k, &val)) {
        if (k.len < pl || memcmp(k.ptr, prefix, pl)) break;
        uint32_t node = k.len == 10 ? store_get_be32((const uint8_t *)k.ptr + 6) : HNSW_NO_NODE;
        if (node == HNSW_NO_NODE || val.len != vb) {
            log_error("store: collection %u: a format 1 record of vector %d has %zu bytes, "
                      "expected %zu; refusing to migrate it", m->cid, m->v, val.len, vb);
            store_cursor_close(cur);
            return ERR_FORMAT;
        }
        memcpy(m->vecs + n * m->dim, val.ptr, vb);
        m->puts[n] = (CollVecPut){ .node = node, .vec = m->vecs + n * m->dim };
        n++;
    }
    store_cursor_close(cur);
    if (e && e != ERR_NOTFOUND) return e;
    if (!n) return 0;
    if ((err = coll_blocks_put(txn, m->cid, m->v, m->dim, m->puts, n, &m->buf))) return err;
    size_t deleted = 0;
    if ((err = store_del_prefix_max(txn, STORE_DB_VECTORS, prefix, pl, n, &deleted))) return err;
    if (deleted != n) return ERR_STORE;
    m->moved = n;
    return 0;
}

int coll_migrate_collection(Db *db, uint32_t cid, const CollectionConfig *cfg, CollMigrate *cm)
{
    int err = 0;
    for (int v = 0; v < cfg->n_vectors && !err; v++) {
        if (cfg->vectors[v].multivector != COLLECTION_SINGLE) continue; /* stays per node */
        Migrate m = { .cid = cid, .v = v, .dim = cfg->vectors[v].size };
        size_t vb = (size_t)m.dim * sizeof(float);
        m.chunk = cm->chunk ? cm->chunk : MAX(COLL_MIGRATE_CHUNK_BYTES / vb, 1);
        m.vecs = xmalloc(m.chunk * vb);
        m.puts = xmalloc(m.chunk * sizeof *m.puts);
        do {
            if (cm->stop_after && cm->txns >= cm->stop_after) {
                err = ERR_BUSY; /* a test's crash */
                break;
            }
            err = store_write(db->store, migrate_fn, &m);
            if (!err && m.moved) {
                cm->moved += m.moved;
                cm->txns++;
            }
        } while (!err && m.moved);
        free(m.vecs);
        free(m.puts);
        free(m.buf.p);
    }
    return err;
}

static int format_fn(StoreTxn *txn, void *ctx)
{
    (void)ctx;
    return store_format_put(txn, STORE_FORMAT_VERSION);
}

int coll_migrate(Db *db, const char *dir, CollMigrate *cm)
{
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    uint32_t version = 0;
    err = store_format_get(txn, &version);
    if (err || version == STORE_FORMAT_VERSION) {
        store_read_end(txn);
        return err;
    }
    /* The collections to migrate (aliases have no vectors). A cid a
     * recover was staging has no collections record: its records are
     * dropped after the load, old format and all. */
    uint32_t *cids = NULL;
    CollectionConfig *cfgs = NULL;
    size_t n = 0;
    StoreCursor *cur;
    if ((err = store_cursor_open(txn, STORE_DB_COLLECTIONS, &cur))) {
        store_read_end(txn);
        return err;
    }
    Slice k, val;
    int e;
    for (e = store_cursor_seek(cur, NULL, 0, &k, &val); e == 0; e = store_cursor_next(cur, &k, &val)) {
        if (coll_alias_record_is(val)) continue;
        char *name = xstrndup(k.ptr, k.len);
        CollectionConfig cfg;
        uint32_t cid;
        int64_t created;
        err = coll_config_record_parse(name, val, &cid, &cfg, &created);
        free(name);
        if (err) break;
        cids = xrealloc(cids, (n + 1) * sizeof *cids);
        cfgs = xrealloc(cfgs, (n + 1) * sizeof *cfgs);
        cids[n] = cid;
        cfgs[n++] = cfg;
    }
    if (!err && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    store_read_end(txn);
    double t0 = now_seconds();
    if (!err)
        log_info("store: %s: data format %u: packing the dense vectors of %zu collections into "
                 "blocks (format %u), in place", dir, version, n, STORE_FORMAT_VERSION);
    for (size_t i = 0; i < n && !err; i++)
        err = coll_migrate_collection(db, cids[i], &cfgs[i], cm);
    /* Last, in a transaction of its own: until it commits, an open finds
     * format 1 and goes on migrating what is left. */
    if (!err) err = store_write(db->store, format_fn, NULL);
    if (err)
        log_error("store: %s: migrating to format %u failed (%s); the directory is unchanged "
                  "where not migrated, and the next open goes on", dir, STORE_FORMAT_VERSION,
                  err_str(err));
    else
        log_info("store: %s: migrated to format %u: %zu vectors moved in %.3f s", dir,
                 STORE_FORMAT_VERSION, cm->moved, now_seconds() - t0);
    free(cids);
    free(cfgs);
    return err;
}
