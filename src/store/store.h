/*
 * store.h - persistence on LMDB (the only module that includes lmdb.h).
 *
 * Design. One LMDB environment lives in the data directory (data.mdb and
 * lock.mdb). It holds a fixed set of named databases (StoreDb below); the
 * collection engine prefixes every key with a 32-bit collection id instead
 * of opening databases per collection, so the set of databases never
 * changes and deleting a collection is a prefix range delete. The key
 * layouts are built by the store_key_* helpers here and documented in
 * docs/storage.md.
 *
 * A meta record ("format" in STORE_DB_META: an 8-byte magic and a 32-bit
 * format version) is written when a directory is first opened and checked
 * on every later open: a directory written by another program or by an
 * incompatible version is refused with ERR_FORMAT and a message saying why.
 *
 * Transactions. Readers call store_read_begin / store_read_end around one
 * short operation; the environment is opened with MDB_NOTLS, so a read
 * transaction may be used on any thread (threadpool workers), one thread at
 * a time. Writers go through store_write, which runs a caller function
 * inside one write transaction and commits it; the commit is durable
 * (LMDB's default fsync on commit) before store_write returns 0, which is
 * the moment a caller may acknowledge its client. Callers serialise their
 * writes (LMDB allows one write transaction at a time anyway).
 *
 * Map growth. LMDB fails a write with MDB_MAP_FULL when the memory map is
 * full; the map can only be resized while no transaction is active in the
 * process. store_write therefore aborts, takes a process-wide lock that
 * excludes every transaction (readers hold it shared for their short
 * lives), doubles the map size, and runs the caller's function again. The
 * function must therefore keep all its effects inside the transaction (or
 * reset its context when called again); it learns nothing committed until
 * store_write returns 0.
 *
 * Errors. MDB_* codes are translated once here: MDB_NOTFOUND -> ERR_NOTFOUND,
 * MDB_MAP_FULL -> ERR_FULL (handled inside store_write), ENOSPC and
 * EDQUOT (a full disk) -> ERR_FULL, MDB_TXN_FULL ->
 * ERR_TOOLARGE, MDB_INVALID / MDB_VERSION_MISMATCH / MDB_CORRUPTED ->
 * ERR_FORMAT, ENOMEM -> ERR_NOMEM, other errno values -> ERR_IO, the rest
 * ERR_STORE. Each failure is logged once, here, with the LMDB message.
 *
 * Snapshots. store_snapshot writes a compacted copy of the environment
 * (mdb_env_copyfd2 with MDB_CP_COMPACT, consistent as of one read
 * transaction, callable while writers run) into one file. A snapshot file
 * is restored by store_restore, which makes it the data.mdb of a new data
 * directory; opening that directory needs nothing more.
 */
#ifndef VITRINE_STORE_H
#define VITRINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* Map size: the initial size of the memory map (a reservation of address
 * space; the file only grows as pages are used) and the growth limit. */
#define STORE_MIN_MAP_SIZE ((size_t)1 << 16)            /* 64 KiB, for tests */
#define STORE_DEFAULT_MAP_SIZE ((size_t)256 << 20)      /* 256 MiB */
#define STORE_MAX_MAP_SIZE ((size_t)1 << 40)            /* 1 TiB */
/* Concurrent read transactions (LMDB reader slots). */
#define STORE_MAX_READERS 256
/* The meta record. */
#define STORE_MAGIC "VITRINE\0"
#define STORE_FORMAT_VERSION 2u
/* The oldest format store_open accepts: directories of versions from
 * STORE_FORMAT_OLDEST to STORE_FORMAT_VERSION - 1 open as they are and
 * the collection engine migrates them (docs/storage.md, Compatibility);
 * anything else is refused. Version 1 kept each dense vector in a record
 * of its own (one 4 KiB overflow page per 2 KiB vector); version 2 packs
 * them into blocks (STORE_DB_DENSE). */
#define STORE_FORMAT_OLDEST 1u

/* Key sizes (see docs/storage.md). */
#define STORE_POINT_ID_KEY_MAX 17
#define STORE_KEY_MAX 32

/* The named databases. */
typedef enum {
    STORE_DB_META = 0,    /* "format" -> magic + version; "next_cid" -> u32;
                             "next_op" -> u64 */
    STORE_DB_COLLECTIONS, /* name -> u32 cid + config record; alias -> u32 0 + alias record */
    STORE_DB_RECORDS,     /* key -> value: database-wide records of the layers above
                             the engine (embedding cache, settings), keys namespaced
                             by their owner */
    STORE_DB_POINTS,      /* cid + point id key -> u32 node + u32 vector mask + payload JSON */
    STORE_DB_VECTORS,     /* cid + u16 vector index + node -> float32[dim] */
    STORE_DB_GRAPH,       /* cid + u16 vector index + node -> hnsw node blob;
                             cid + u16 vector index -> entry record */
    STORE_DB_PENDING,     /* cid + node -> empty: graph changes not yet saved */
    STORE_DB_PAYLOAD_INDEX, /* cid + field name -> payload index definition */
    STORE_DB_BLOBS,       /* cid + point id key -> bytes: a point's blob (an item's
                             thumbnail), deleted with the point */
    STORE_DB_DENSE,       /* cid + u16 vector index + u32 block -> block record: the
                             dense vectors of K consecutive nodes (format 2) */
    STORE_DB_COUNT
} StoreDb;

/*
 * Every database from STORE_DB_FIRST_COLLECTION_DB on holds collection data
 * only, each key starting with the collection's cid (4 bytes, big-endian):
 * one collection's records are the cid-prefixed ranges of those databases,
 * which is all that collection snapshots copy and what dropping a
 * collection deletes. A database added later must keep that rule.
 */
#define STORE_DB_FIRST_COLLECTION_DB (STORE_DB_RECORDS + 1)

/* store_db_name is a database's name in the environment ("points");
 * store_db_by_name finds one by name, ERR_NOTFOUND for an unknown name. */
const char *store_db_name(StoreDb db);
int store_db_by_name(const char *name, size_t len, StoreDb *out);

typedef struct {
    size_t map_size; /* 0: STORE_DEFAULT_MAP_SIZE */
} StoreOptions;

typedef struct {
    size_t map_size;   /* current map size */
    unsigned grows;    /* how many times the map has grown since open */
    size_t file_bytes; /* size of data.mdb in use (last page * page size) */
} StoreStats;

typedef struct Store Store;
typedef struct StoreTxn StoreTxn;
typedef struct StoreCursor StoreCursor;

/*
 * store_open opens (creating when missing) the environment in directory
 * dir and checks or writes the meta record. ERR_FORMAT (logged with the
 * reason) for a foreign or incompatible directory, ERR_IO when the
 * directory cannot be created or opened, ERR_BUSY (logged, naming the
 * holder's pid) when another open Store holds the directory: store_open
 * takes an exclusive flock on dir/vitrine.lock for the Store's life, so
 * one process at a time serves a data directory. Open a directory at most
 * once per process (an LMDB rule: a second open would break its locks;
 * the flock refuses it too). Free with store_close.
 */
int store_open(const char *dir, const StoreOptions *opt, Store **out);
/* store_close closes the environment; no transaction may be active. */
void store_close(Store *s);

/* store_read_begin starts a read-only transaction (a consistent view as of
 * now). End it soon with store_read_end: a long reader pins old pages. */
int store_read_begin(Store *s, StoreTxn **out);
void store_read_end(StoreTxn *txn);

/*
 * store_write runs fn(txn, ctx) in a write transaction and commits it when
 * fn returns 0; fn's nonzero return aborts the transaction and is
 * returned. When the map fills up (during fn or the commit) the
 * transaction is aborted, the map is grown and fn is called again with a
 * fresh transaction, so fn must not leave effects outside it. Returns 0
 * only after the commit is durable.
 */
typedef int (*StoreWriteFn)(StoreTxn *txn, void *ctx);
int store_write(Store *s, StoreWriteFn fn, void *ctx);

/*
 * Sub-transactions (LMDB's nested transactions) of a write transaction:
 * what a sub-transaction writes becomes part of its parent when
 * store_sub_commit succeeds (durable only with the parent's commit) and
 * vanishes with store_sub_abort, so one of several changes in a
 * transaction can fail without a trace while the others commit. While a
 * sub-transaction is open its parent must not be used. A full map inside
 * a sub-transaction marks the parent too, so store_write still grows the
 * map and retries its function. Both calls free sub.
 */
int store_sub_begin(StoreTxn *parent, StoreTxn **out);
int store_sub_commit(StoreTxn *sub);
void store_sub_abort(StoreTxn *sub);
/* store_txn_retrying: 1 when the write transaction (or a sub-transaction of
 * it) hit a full map, so store_write will grow the map and call its
 * function again: the function may stop early. */
int store_txn_retrying(const StoreTxn *txn);

/*
 * Record access. Values returned through Slice point into the map and stay
 * valid until the transaction ends or (in a write transaction) the next
 * write. ERR_NOTFOUND when a key is absent.
 */
int store_get(StoreTxn *txn, StoreDb db, const void *key, size_t klen, Slice *val);
int store_put(StoreTxn *txn, StoreDb db, const void *key, size_t klen, const void *val,
              size_t vlen);
/* store_put2 stores the concatenation of two byte strings as one value. */
int store_put2(StoreTxn *txn, StoreDb db, const void *key, size_t klen, const void *a,
               size_t alen, const void *b, size_t blen);
/* store_put_append is store_put for keys written in increasing order past
 * every key of the database (a bulk load under a new cid): LMDB then fills
 * pages to the brim instead of splitting them, and skips the search. A key
 * out of that order is simply put as store_put would. */
int store_put_append(StoreTxn *txn, StoreDb db, const void *key, size_t klen, const void *val,
                     size_t vlen);
/* store_put_reserve makes room for a value of vlen bytes under key and
 * points *out at it, in the map, for the caller to fill before the next
 * write of the transaction (LMDB's MDB_RESERVE). */
int store_put_reserve(StoreTxn *txn, StoreDb db, const void *key, size_t klen, size_t vlen,
                      void **out);
/* store_del deletes a key; ERR_NOTFOUND when it was absent. */
int store_del(StoreTxn *txn, StoreDb db, const void *key, size_t klen);
/* store_del_prefix deletes every key starting with prefix; *n_deleted
 * (may be NULL) receives how many. */
int store_del_prefix(StoreTxn *txn, StoreDb db, const void *prefix, size_t plen,
                     size_t *n_deleted);
/* store_del_prefix_max deletes at most max of them, so a large range can
 * be deleted over several short transactions: fewer than max deleted
 * (*n_deleted) means none is left. */
int store_del_prefix_max(StoreTxn *txn, StoreDb db, const void *prefix, size_t plen, size_t max,
                         size_t *n_deleted);

/*
 * Cursors walk keys in memcmp order. store_cursor_seek positions at the
 * first key >= key (klen 0: the first key); store_cursor_next moves on.
 * Both return ERR_NOTFOUND past the end. A cursor belongs to its
 * transaction: close it before the transaction ends.
 */
int store_cursor_open(StoreTxn *txn, StoreDb db, StoreCursor **out);
int store_cursor_seek(StoreCursor *c, const void *key, size_t klen, Slice *k, Slice *v);
int store_cursor_next(StoreCursor *c, Slice *k, Slice *v);
void store_cursor_close(StoreCursor *c);

/*
 * store_snapshot writes a compacted, consistent copy of the whole
 * environment to the file path (through path.tmp, fsync and rename, so a
 * crash never leaves a half snapshot under path). Safe while readers and
 * the writer run. ERR_IO when the file cannot be written.
 */
int store_snapshot(Store *s, const char *path);

/*
 * store_restore makes a data directory from a snapshot file: dir is
 * created when missing and must not already hold a data.mdb (ERR_EXISTS);
 * the snapshot is copied to dir/data.mdb and fsync'd. Then store_open(dir)
 * opens it (the meta record is checked there).
 */
int store_restore(const char *snapshot_path, const char *dir);

void store_stats(Store *s, StoreStats *out);

/* The pages one database occupies (LMDB's mdb_stat), as of now. */
typedef struct {
    uint64_t entries;
    uint64_t branch_pages, leaf_pages, overflow_pages;
    uint32_t page_size;
    uint64_t bytes; /* all its pages * page_size */
} StoreDbStats;
int store_db_stats(Store *s, StoreDb db, StoreDbStats *out);

/*
 * The format record: store_format_get reads the version of the open
 * directory (from STORE_FORMAT_OLDEST to STORE_FORMAT_VERSION once
 * store_open accepted it); store_format_put rewrites it inside the
 * caller's write transaction, the last step of a migration.
 */
int store_format_get(StoreTxn *txn, uint32_t *version);
int store_format_put(StoreTxn *txn, uint32_t version);

/* ---- key layouts (big-endian integers, so memcmp order is numeric) ---- */

/* cid: the prefix of every key of one collection (4 bytes). */
size_t store_key_cid(uint8_t out[STORE_KEY_MAX], uint32_t cid);
/* cid + point id key (pointid.h's ordered key, 9 or 17 bytes). */
size_t store_key_point(uint8_t out[STORE_KEY_MAX], uint32_t cid, const uint8_t *idkey,
                       size_t idlen);
/* cid + vector index: prefix of one index's vectors or graph; also the
 * key of that graph's entry record (6 bytes). */
size_t store_key_index(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint16_t vidx);
/* cid + vector index + node (10 bytes). */
size_t store_key_node(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint16_t vidx, uint32_t node);
/* cid + node (8 bytes), for STORE_DB_PENDING. */
size_t store_key_pending(uint8_t out[STORE_KEY_MAX], uint32_t cid, uint32_t node);

/* Fixed-width integer codecs used in keys (big-endian) and values (LE). */
void store_put_be32(uint8_t *p, uint32_t v);
uint32_t store_get_be32(const uint8_t *p);
void store_put_le32(uint8_t *p, uint32_t v);
uint32_t store_get_le32(const uint8_t *p);
void store_put_le64(uint8_t *p, uint64_t v);
uint64_t store_get_le64(const uint8_t *p);

#endif
