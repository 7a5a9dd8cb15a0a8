/*
 * collection.h - the vector database engine: collections of points (id,
 * payload, named vectors) with HNSW search, payload filters and LMDB
 * persistence. The HTTP handlers call this; nothing here knows HTTP.
 *
 * Design.
 *   - A Db opens one data directory (one Store) and every collection in it.
 *     Each collection keeps one HnswIndex per named vector, all sharing the
 *     collection's dense node ids; a node table maps node -> PointId.
 *   - Writes are durable before they are visible, and group-committed:
 *     collection_write_group applies a group of writes (each a list of
 *     operations, atomic together) in ONE LMDB transaction, one fsync for
 *     the group; a write that fails leaves no trace and the others still
 *     commit. Only after the commit do the node table and the graphs
 *     change in memory. The graph records that change dirtied are saved
 *     in the next group's transaction (or by collection_db_flush when the
 *     writer goes idle); until then "pending" markers, committed with the
 *     points, make a crash recoverable (see docs/storage.md).
 *   - Reads (search, get, scroll, count, recommend) run concurrently from
 *     any number of threads, each in one short LMDB read transaction.
 *     Writes are serialised by a mutex inside the Db (the HTTP layer runs
 *     them on one writer thread anyway). Per collection a reader-writer
 *     lock guards the node table; the graph relies on hnsw's own locks.
 *   - Results are allocated in a caller-owned Arena: one arena_free
 *     releases a whole answer. Payloads come back as JSON text (exactly
 *     what was stored, or the selected keys of it), which a JsonWriter
 *     copies with jw_raw. Qdrant's JSON shapes of these structs live above
 *     the engine, in src/api/qdrant_convert.h.
 *   - Filtered search: when the filter's estimated number of matching
 *     points is below COLLECTION_FULL_SCAN_THRESHOLD, the matching points
 *     are found by a scan and scored exactly (selective filters would
 *     otherwise starve the graph walk). Above it hnsw_plan weighs, at the
 *     request's ef, the scan against a walk over the matches alone (an
 *     allow list built from the payload indexes, hnsw_search_allowed) and
 *     the walk through every node with the filter as an accept callback.
 *     Like Qdrant's full_scan_threshold, but counted in points, and raised
 *     on big graphs by that cost model. The estimate comes from the
 *     payload indexes (exact counts for terms) and, when it is a range,
 *     from a sample.
 *   - Quantized graphs (Qdrant's scalar int8 quantization_config,
 *     collection_quant.c): the graph keeps int8 codes only; the float32
 *     originals stay in the memory-mapped store, read through
 *     coll_vector_get to rescore candidates and for exact scans.
 *   - Payload indexes (collection_index_create): per field, the values
 *     of every point in memory (rebuilt from the points at open), kept
 *     current by every write. Conditions on an indexed field are answered
 *     from the index instead of the payload JSON, with the same results;
 *     a selective indexed condition names the candidate points outright
 *     (exact scan, count, scroll); order_by walks an integer, float or
 *     datetime index in order.
 *
 *   - Sparse vectors (Qdrant's sparse_vectors: {indices, values}) live
 *     beside the dense ones under their own names: stored sorted by index
 *     in LMDB, indexed in memory by an inverted index per name
 *     (index/sparse.h) rebuilt at open, and searched exactly by dot
 *     product (collection_sparse.c). A search or recommendation whose
 *     `using` names a sparse vector is answered there.
 *   - Multivectors (Qdrant's multivector_config, comparator max_sim): a
 *     dense vector whose value is a list of vectors of its size per point
 *     (CollectionVectorParams.multivector). Stored as one record per point
 *     in LMDB, indexed by no graph, and searched exactly by MaxSim over
 *     every point having it (collection_multivec.c); a plain vector given
 *     for one is a list of one.
 *
 * Errors: ERR_NOTFOUND (unknown collection, point, or vector name),
 * ERR_EXISTS (collection exists), ERR_INVAL (bad input; a message is
 * written to the caller's err buffer), ERR_UNSUPPORTED (filter feature),
 * ERR_FULL / ERR_IO / ERR_STORE from the store.
 */
#ifndef VITRINE_COLLECTION_H
#define VITRINE_COLLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "index/hnsw.h"
#include "base/json.h"
#include "index/payload_index.h"
#include "index/pointid.h"
#include "index/sparse.h"

/* Limits. */
#define COLLECTION_MAX_NAME 255        /* bytes of a collection name */
#define COLLECTION_MAX_VECTORS 16      /* named vectors per collection */
#define COLLECTION_MAX_VECTOR_NAME 64  /* bytes of a vector name */
#define COLLECTION_MAX_SPARSE 16       /* sparse vectors per collection */
#define COLLECTION_MAX_SPARSE_LEN SPARSE_MAX_LEN /* entries of one sparse vector */
/* Floats of one multivector, all its vectors together (Qdrant's
 * MAX_MULTIVECTOR_FLATTENED_LEN: a multivector must be shorter). */
#define COLLECTION_MAX_MULTIVEC_FLOATS (1u << 20)
#define COLLECTION_MAX_DIM HNSW_MAX_DIM
#define COLLECTION_MAX_LIMIT 100000    /* results per search / scroll page */
#define COLLECTION_MAX_BATCH 100000    /* points per upsert / delete batch */
#define COLLECTION_MAX_OPTIONS 4096    /* bytes of CollectionConfig.options, with its NUL */
#define COLLECTION_MAX_BLOB (1 << 20)  /* bytes of a point's blob (a thumbnail is ~20 KB) */
#define COLLECTION_MAX_RECORD_KEY 256  /* bytes of a database record's key (LMDB allows 511) */
#define COLLECTION_MAX_RECORD (16 << 20) /* bytes of a database record's value */
/* Filtered searches whose estimated matches are below this many points are
 * answered by an exact scan (Qdrant's full_scan_threshold, in points). */
#define COLLECTION_FULL_SCAN_THRESHOLD 5000
/* A graph whose vectors take fewer bytes than this is searched exactly
 * (Qdrant's default full_scan_threshold, 10000 KB): about 5000 points of
 * 512 floats. */
#define COLLECTION_FULL_SCAN_BYTES ((uint64_t)10000 * 1024)
/* A PATCH that rebuilds the graphs of a collection with at least this
 * many points (nodes, deleted ones included) returns once the new setting
 * is stored, and the graphs are built on a background thread (Qdrant's
 * optimizer; the collection reports status yellow meanwhile). Below it the
 * rebuild takes under a second or two and the call returns when it is done. */
#define COLLECTION_REBUILD_ASYNC_MIN 5000
/* Bytes of the background rebuild's last error text, with its NUL. */
#define COLLECTION_OPTIMIZER_ERROR_MAX 160
/* Points sampled to estimate how many points a filter matches. */
#define COLLECTION_FILTER_SAMPLE 256
/* Payload indexes: per collection, bytes of a field name (a key path) and
 * of the opaque params text (with its NUL). The params text holds a text
 * index's custom stopwords too (a few hundred words fit); CollectionInfo
 * holds COLLECTION_MAX_INDEXES of it, so it stays in kilobytes. */
#define COLLECTION_MAX_INDEXES 32
#define COLLECTION_MAX_INDEX_FIELD 255
#define COLLECTION_MAX_INDEX_PARAMS 2048
/* HNSW parameters: the triples of hnsw.h. */
#define COLLECTION_MIN_M HNSW_MIN_M
#define COLLECTION_DEFAULT_M HNSW_DEFAULT_M
#define COLLECTION_MAX_M HNSW_MAX_M
#define COLLECTION_MIN_EF_CONSTRUCT HNSW_MIN_EF_CONSTRUCTION
#define COLLECTION_DEFAULT_EF_CONSTRUCT HNSW_DEFAULT_EF_CONSTRUCTION
#define COLLECTION_MAX_EF_CONSTRUCT HNSW_MAX_EF_CONSTRUCTION

typedef enum {
    COLLECTION_COSINE = 0,
    COLLECTION_DOT = 1,
    COLLECTION_EUCLID = 2,
    COLLECTION_MANHATTAN = 3, /* L1 distance; like Euclid, smaller is closer */
} CollectionDistance;

/* Whether a dense vector holds one vector per point or several. */
typedef enum {
    COLLECTION_SINGLE = 0,  /* one vector of `size` floats */
    COLLECTION_MAX_SIM = 1, /* a multivector: 1.. vectors of `size`, compared by MaxSim */
} CollectionMultivector;

/* What the stored values are rounded to (Qdrant's datatype); they are
 * kept and computed on as floats. Multivectors only: a single vector is
 * float32. */
typedef enum {
    COLLECTION_FLOAT32 = 0,
    COLLECTION_UINT8 = 1,   /* integers 0..255: truncated, saturated (Rust's `as u8`) */
    COLLECTION_FLOAT16 = 2, /* half precision */
} CollectionDatatype;

/* Quantization of a dense vector's graph (Qdrant's quantization_config;
 * only scalar int8 is implemented). */
typedef enum {
    COLLECTION_QUANT_NONE = 0,
    COLLECTION_QUANT_INT8 = 1, /* Qdrant's {"scalar": {"type": "int8"}} */
} CollectionQuantType;

/* Points a quantized graph waits for before its quantile interval is
 * calibrated from them; until then it keeps float32 vectors (and, being
 * small, is searched exactly anyway). */
#define COLLECTION_QUANT_MIN_POINTS 1000
/* A calibrated graph is calibrated again each time it has grown by this
 * factor since (1k, 10k, 100k, 1M points), as Qdrant's optimizer
 * requantizes segments as they grow: the first thousand points of a
 * catalogue (often one category) need not span the values of the whole.
 * Each recalibration converts the graph once (about 3 s at 1M points on 2 cores),
 * so the cost per insert stays constant; past the last stage the sample
 * (QUANT_SAMPLE_SIZE vectors) no longer changes much. */
#define COLLECTION_QUANT_REGROW 10
#define COLLECTION_QUANT_MAX_STAGE 4

typedef struct {
    CollectionQuantType type;
    float quantile;  /* 0.5..1; 0 in a request: Qdrant's default 0.99 */
    int always_ram;  /* reported back; codes are always in RAM here */
    /* The calibrated interval (quant/quant.h), persisted so that a reopen
     * encodes the same codes; calibrated = 0 until the collection has
     * COLLECTION_QUANT_MIN_POINTS points, then the calibration's stage k
     * (1..COLLECTION_QUANT_MAX_STAGE): it was calibrated on at least
     * MIN_POINTS x REGROW^(k-1) points (records before stages held 1).
     * Engine state: a request leaves them 0. */
    int calibrated;
    float lo, hi;
} CollectionQuantization;

typedef struct {
    char name[COLLECTION_MAX_VECTOR_NAME + 1]; /* "" for the unnamed vector */
    uint32_t size;
    CollectionDistance distance;
    CollectionMultivector multivector;
    CollectionDatatype datatype;
    CollectionQuantization quant;
    /* 1: the vector has no graph to search (Qdrant's hnsw m = 0): every
     * search, recommendation and discovery on it scores exactly, as
     * CollectionSearch.exact asks (collection_search.c's planner); 0 by
     * default. No graph is built for it either: its nodes are stored
     * bare, the vector (or its int8 code) without links (hnsw_set_bare),
     * so an insert costs a copy instead of a neighbour search, and
     * Qdrant's bulk-upload recipe (create with m = 0, upload, then PATCH
     * m) loads fast. collection_update turning the flag off builds the
     * graph from the stored vectors at the collection's m, in one go;
     * turning it on keeps the graph there is (later inserts are bare). A
     * directory of an earlier build, whose graph was linked under the
     * flag, works as it is. A multivector is searched exactly anyway.
     * Persisted (config record layout 5); collection_update changes it. */
    int exact_only;
} CollectionVectorParams;

/* What a sparse vector's scores are made of (Qdrant's modifier). */
typedef enum {
    COLLECTION_MODIFIER_NONE = 0, /* plain dot product */
    COLLECTION_MODIFIER_IDF = 1,  /* query weights times the dimension's IDF */
} CollectionModifier;

typedef struct {
    char name[COLLECTION_MAX_VECTOR_NAME + 1]; /* never "" */
    CollectionModifier modifier;
} CollectionSparseParams;

/* A sparse vector: n (index, value) pairs. As input, in any index order
 * (indices unique); as output, sorted by index. */
typedef struct {
    const uint32_t *indices;
    const float *values;
    size_t n;
} CollectionSparseVector;

/* A multivector: n vectors of dim floats, one after the other in data. */
typedef struct {
    const float *data; /* [n * dim] */
    size_t n;
    size_t dim;
} CollectionMultiVector;

typedef struct {
    /* Dense vectors: 0..COLLECTION_MAX_VECTORS (0 with sparse vectors only,
     * or none at all: a collection of payloads, as Qdrant allows). */
    int n_vectors;
    int unnamed;   /* 1: one vector without a name (Qdrant's "vectors": {size, distance}) */
    CollectionVectorParams vectors[COLLECTION_MAX_VECTORS];
    /* Sparse vectors: their names share one namespace with the dense
     * ones. */
    int n_sparse; /* 0..COLLECTION_MAX_SPARSE */
    CollectionSparseParams sparse[COLLECTION_MAX_SPARSE];
    int m;            /* 0 in a create request: the default */
    int ef_construct; /* 0 in a create request: the default */
    /* Opaque text the engine persists and returns untouched ("" by
     * default): the API layer keeps settings the engine does not interpret
     * here (Qdrant's optimizers_config, wal_config, ... as JSON).
     * NUL-terminated. */
    char options[COLLECTION_MAX_OPTIONS];
} CollectionConfig;

/* A payload index: its field, type and parameters. */
typedef struct {
    PayloadIndexType type;
    PayloadTextParams text; /* text indexes: the tokenizer */
    /* Opaque text the engine persists and returns untouched ("" by
     * default): the API keeps the params object as Qdrant reports it.
     * NUL-terminated, < COLLECTION_MAX_INDEX_PARAMS bytes. */
    const char *params;
} CollectionIndexParams;

typedef struct {
    char field[COLLECTION_MAX_INDEX_FIELD + 1];
    PayloadIndexType type;
    PayloadTextParams text;
    char params[COLLECTION_MAX_INDEX_PARAMS];
    uint64_t points; /* points with a value of the index's type at field */
} CollectionIndexInfo;

typedef struct {
    CollectionConfig config;
    uint64_t points_count;
    uint64_t vectors_count; /* live vectors over all named vectors, sparse ones too */
    uint64_t vector_counts[COLLECTION_MAX_VECTORS]; /* live vectors per dense vector */
    /* Update operations applied (Qdrant's op_num: the last one's sequence
     * number, from 1): each operation of a point write, each payload index
     * change; kept across restarts, not carried by a snapshot. */
    uint64_t op_num;
    /* The bytes of the points' payloads (the JSON text stored). */
    uint64_t payload_bytes;
    uint32_t id; /* the collection's id in the database: never reused, so a collection
                    made again under the same name has another */
    int64_t created_at;     /* unix seconds */
    size_t memory_bytes;    /* in-memory index size (graphs and payload indexes) */
    /* The payload schema: the collection's payload indexes, by field name. */
    CollectionIndexInfo indexes[COLLECTION_MAX_INDEXES];
    size_t n_indexes;
    /* Graphs are being rebuilt in the background (a PATCH of a large
     * collection, or one a crash interrupted): searches use the graphs as
     * they were until then. optimizer_error: why the last such rebuild
     * failed ("" for none); it is retried by the next PATCH or open. */
    int optimizing;
    char optimizer_error[COLLECTION_OPTIMIZER_ERROR_MAX];
    /* While optimizing: when the rebuild started (unix milliseconds), the
     * graph nodes it inserts in all (the live points of each graph
     * rebuilt, as it began) and those inserted so far. */
    int64_t optimize_started_ms;
    uint64_t optimize_total, optimize_done;
    /* Payload blocks (collection_blocks.c) complete so far: how many, the
     * points they link (a point in several blocks counts in each) and
     * their bytes (also in memory_bytes). */
    size_t payload_blocks, payload_block_points, payload_block_bytes;
} CollectionInfo;

typedef struct Db Db;

typedef struct {
    size_t map_size; /* initial LMDB map size; 0: the store's default */
    /* Exact-scan threshold for filtered searches, in points; 0: the
     * default COLLECTION_FULL_SCAN_THRESHOLD (tests lower it). */
    uint64_t full_scan_threshold;
    /* Bytes of vectors below which a whole graph is searched exactly; 0:
     * COLLECTION_FULL_SCAN_BYTES (tests lower it to reach the graph with
     * small data). */
    uint64_t full_scan_bytes;
    /* Vectors moved per transaction when a format 1 directory is
     * migrated at open; 0: about 16 MiB of them (tests lower it). */
    size_t migrate_chunk;
    /* Testing: 0, or end such a migration after this many transactions
     * with ERR_BUSY, leaving the directory as a crash there would. */
    size_t migrate_stop_after;
    /* Points from which a PATCH rebuilds graphs in the background; 0:
     * COLLECTION_REBUILD_ASYNC_MIN (tests lower it). */
    uint64_t rebuild_async_min;
    /* Testing: NULL, or a background rebuild, once its graphs are built,
     * waits while *optimize_hold is non-zero (read atomically), setting a
     * 1 to 2 to say so, so that a test can write before the catch-up. */
    int *optimize_hold;
    /* The links per member of vector v's payload blocks (Qdrant's
     * hnsw_config.payload_m, which the API layer reads from the
     * configuration's options), 0 for none; called with the collection's
     * lock held. NULL: the vector's graph m. */
    int (*block_m)(const CollectionConfig *cfg, int v);
    /* Whether the values of a payload index with these params (its
     * CollectionIndexParams.params text) get payload blocks (Qdrant's
     * enable_hnsw); NULL: every keyword index's. */
    int (*block_index)(const char *params);
} DbOptions;

/* ---- the database ---- */

/*
 * collection_db_open opens (creating when missing) the data directory and
 * loads every collection: graphs are read back from LMDB, not rebuilt, and
 * changes a crash left unsaved are replayed. Free with collection_db_close.
 */
int collection_db_open(const char *dir, const DbOptions *opt, Db **out);
void collection_db_close(Db *db);
/* collection_db_snapshot writes a consistent, compacted copy of the whole
 * database to the file path while reads and writes go on. Restore with
 * store_restore(path, new_dir) and open new_dir. */
int collection_db_snapshot(Db *db, const char *path);
/* ---- collection snapshots (collection_snapshot.c) ---- */

/* The snapshot file format this build writes and reads (docs/storage.md). */
#define COLLECTION_SNAPSHOT_VERSION 1

typedef struct {
    uint64_t size;      /* bytes of the snapshot file */
    uint8_t sha256[32]; /* SHA-256 of the whole file, as `sha256sum` prints it */
    uint64_t points;    /* points in it */
} CollectionSnapshotInfo;

/*
 * collection_snapshot writes collection name (or the collection an alias
 * names) into one self-contained file at path: its config, points,
 * vectors, graph and every other record of it, as they were at one
 * moment, while reads and writes go on (every write is wholly in it or
 * not at all). The graph changes not yet saved are saved first, under
 * the write lock, so the file holds the live graph node for node; the
 * rest is streamed from one read transaction. Written through path.tmp,
 * fsync'd and renamed, so path is never half a file. info (may be NULL)
 * gets its size and SHA-256. ERR_NOTFOUND ("Collection `x` doesn't
 * exist!"), ERR_IO, with a message in err.
 */
int collection_snapshot(Db *db, const char *name, const char *path, CollectionSnapshotInfo *info,
                        char *err, size_t errlen);

/*
 * collection_recover makes collection name (or the collection an alias
 * names) hold exactly what the snapshot file at path holds, replacing it,
 * or creating it when no collection has that name. Atomic: until the end
 * the old collection is served and written as usual; a failure at any
 * point (a damaged, truncated or foreign file, a full disk, a crash) leaves
 * it as it was, and only a successful recover replaces it, in one commit.
 * Writes made to the old collection while the recover runs are replaced
 * with it. The saved graph is loaded, not rebuilt (it is rebuilt only when
 * it does not validate). info (may be NULL) gets the file's size, SHA-256
 * and points. Errors, with a message in err: ERR_NOTFOUND (no such file),
 * ERR_FORMAT (not a vitrine snapshot, another format version, truncated,
 * damaged), ERR_INVAL (a name no collection may have), ERR_FULL / ERR_IO /
 * ERR_STORE from the store.
 */
int collection_recover(Db *db, const char *name, const char *path, CollectionSnapshotInfo *info,
                       char *err, size_t errlen);

/* How many times the LMDB map has grown since open (tests, metrics). */
unsigned collection_db_map_grows(Db *db);

/*
 * collection_graph_digest hashes the in-memory graph of vector `using`:
 * every node's vector, level, deleted flag and links, and the entry point.
 * Tests compare it before close and after reopen to prove the saved graph
 * is the live one, node for node.
 */
int collection_graph_digest(Db *db, const char *name, const char *using, uint64_t *out);

/*
 * collection_graph_links counts what the in-memory graph of vector `using`
 * holds: its nodes (live and deleted), how many of them have at least one
 * link, the links in all, and the graph's top level. Tests tell a bare
 * graph (exact_only: no links) from a built one with it.
 */
typedef struct {
    uint64_t nodes, linked, links;
    int max_level; /* -1: empty */
} CollectionGraphLinks;
int collection_graph_links(Db *db, const char *name, const char *using, CollectionGraphLinks *out);

/*
 * collection_db_plans reports how many dense searches each plan answered
 * since open: the exact scan of a filter's matches, the exact scan of
 * every point, the graph walk (with a filter or without), and the walk
 * over a filter's matches alone (hnsw_search_allowed), and the walk of
 * a payload block (collection_blocks.c). Tests check that
 * a planner path they mean to cover ran.
 */
typedef struct {
    uint64_t scan, all, walk, sparse, block;
} CollectionPlans;
void collection_db_plans(Db *db, CollectionPlans *out);

/* ---- collections ---- */

/* collection_create: ERR_EXISTS, or ERR_INVAL with a message for a bad
 * name or config. Zero m / ef_construct take the defaults. */
int collection_create(Db *db, const char *name, const CollectionConfig *config, char *err,
                      size_t errlen);
int collection_delete(Db *db, const char *name); /* ERR_NOTFOUND */

/* What collection_update changes; zero / NULL fields stay as they are. */
typedef struct {
    const char *options; /* replaces CollectionConfig.options; NULL: unchanged */
    int m;               /* HNSW m; 0: unchanged */
    int ef_construct;    /* HNSW ef_construct; 0: unchanged */
    /* New modifiers of the named sparse vectors (each must exist); they
     * apply to the next query. */
    const CollectionSparseParams *sparse;
    size_t n_sparse;
    /* With set_quant: the new quantization of each dense vector, in
     * config order (a change re-quantizes the populated graph from the
     * stored float32 vectors; the links are kept). */
    int set_quant;
    CollectionQuantization quant[COLLECTION_MAX_VECTORS];
    /* With set_exact_only: the new exact_only flag of each dense vector
     * (CollectionVectorParams), in config order; it applies to the next
     * query. A flag turned off rebuilds that vector's graph (its nodes
     * were stored bare); one turned on keeps the graph, and the vector's
     * later inserts are bare. */
    int set_exact_only;
    int exact_only[COLLECTION_MAX_VECTORS];
    /* NULL, or apply the update only while the collection's options are
     * this text: a caller that computed the update from the options it
     * read gets ERR_BUSY, and nothing changes, when another update
     * changed them in between. */
    const char *if_options;
} CollectionUpdate;

/*
 * collection_update changes a collection's options and HNSW parameters
 * (Qdrant's PATCH /collections/{name}), persisted. A new m or
 * ef_construct rebuilds the graphs with it from the live vectors, so
 * every later insert and the existing points share one set of
 * parameters; so does an exact_only flag turned off, for its vector's
 * graph. Below COLLECTION_REBUILD_ASYNC_MIN points the call returns when
 * the new graphs are built and committed (reads go on meanwhile, writes
 * wait); from it on, once the setting is stored: a background thread
 * builds them while reads and writes go on against the graphs as they
 * were, brings in what was written meanwhile, and swaps them in
 * (CollectionInfo.optimizing until then; a crash or close resumes it at
 * the next open). ERR_INVAL with a message for an
 * out-of-range value or options too long, ERR_NOTFOUND, ERR_BUSY when
 * if_options no longer holds.
 */
int collection_update(Db *db, const char *name, const CollectionUpdate *u, char *err,
                      size_t errlen);
int collection_info(Db *db, const char *name, CollectionInfo *out);
/* collection_list writes the names, sorted, as an array of strings in
 * arena. */
int collection_list(Db *db, Arena *arena, char ***names, size_t *n);

/* ---- aliases ---- */

/*
 * Aliases are other names of collections (Qdrant's): every function here
 * that takes a collection name takes an alias too, except
 * collection_create and collection_delete, which name collections
 * themselves (as Qdrant's). Aliases and collections share one namespace;
 * deleting a collection deletes its aliases.
 */
typedef enum {
    COLLECTION_ALIAS_CREATE = 0, /* alias_name -> collection_name */
    COLLECTION_ALIAS_DELETE,     /* alias_name */
    COLLECTION_ALIAS_RENAME,     /* old_alias_name -> new_alias_name */
} CollectionAliasOp;

typedef struct {
    CollectionAliasOp kind;
    const char *collection_name; /* create */
    const char *alias_name;      /* create, delete */
    const char *old_alias_name;  /* rename */
    const char *new_alias_name;  /* rename */
} CollectionAliasAction;

/*
 * collection_alias_apply applies actions in order, atomically: all of
 * them, persisted in one transaction, or none. Errors, with Qdrant's
 * messages: create of an alias to a missing collection (or to an alias)
 * ERR_NOTFOUND "Collection `x` doesn't exist!"; an alias named like a
 * collection (create or rename) ERR_EXISTS "Collection `x` already
 * exists!"; rename of a missing alias ERR_NOTFOUND "Alias x does not
 * exists!"; a bad name ERR_INVAL. As in Qdrant, creating an alias that
 * exists points it at the new collection, renaming onto an existing alias
 * replaces it, and deleting a missing alias is no error.
 */
int collection_alias_apply(Db *db, const CollectionAliasAction *actions, size_t n, char *err,
                           size_t errlen);

typedef struct {
    const char *alias_name;
    const char *collection_name;
} CollectionAlias;

/* collection_alias_list lists the aliases of collection (its own name; no
 * error when it does not exist: none), or every alias when collection is
 * NULL, sorted by alias name, allocated in arena. */
int collection_alias_list(Db *db, const char *collection, Arena *arena, CollectionAlias **out,
                          size_t *n);

/* ---- payload indexes ---- */

/*
 * collection_index_create makes (or replaces) the payload index of field
 * (a key path: `city`, `a.b`, `a[].b`) with p's type and parameters:
 * the definition is committed, the index built from every point (writes
 * wait meanwhile, reads go on without it) and then used by filters,
 * order_by and the schema. An identical index is left as it is.
 * *operation_id (may be NULL) receives the operation id the change took
 * (from the same counter as point writes, as Qdrant's WAL). ERR_INVAL
 * with a message for a malformed field, an unknown type, params too long
 * or too many indexes; ERR_NOTFOUND.
 */
int collection_index_create(Db *db, const char *name, const char *field,
                            const CollectionIndexParams *p, uint64_t *operation_id, char *err,
                            size_t errlen);
/* collection_index_delete drops field's index; 0 also when there is none
 * (as Qdrant). ERR_NOTFOUND for the collection. */
int collection_index_delete(Db *db, const char *name, const char *field, uint64_t *operation_id);

/* ---- points: input ---- */

typedef struct {
    const char *name; /* NULL or "" for the unnamed vector */
    const float *data;
    size_t dim;
    /* Non-NULL: a sparse vector for the sparse vector `name` (data and
     * dim unused). Indices unique, values finite; stored sorted. */
    const CollectionSparseVector *sparse;
    /* Non-NULL: a multivector for the multivector `name` (data and dim
     * unused): at least one vector, each of the vector's size, finite;
     * stored prepared as a search query is (see collection_multivec_prepare).
     * A multivector may also be given data and dim: a list of one. */
    const CollectionMultiVector *multi;
} CollectionVectorIn;

typedef struct {
    PointId id;
    const JsonValue *payload; /* an object, or NULL for {} */
    const CollectionVectorIn *vectors;
    size_t n_vectors;
} CollectionPointIn;

/* An opaque blob kept with a point (an item's thumbnail, read back by
 * collection_blob_get), at most COLLECTION_MAX_BLOB bytes. */
typedef struct {
    const void *data; /* NULL: none */
    size_t len;
} CollectionBlob;

/* ---- points: output ---- */

/* What to return of each point's payload or vectors. */
enum {
    COLLECTION_SEL_NONE = 0,
    COLLECTION_SEL_ALL = 1,
    COLLECTION_SEL_INCLUDE = 2, /* only keys (payload) / names (vectors) */
    COLLECTION_SEL_EXCLUDE = 3, /* all but keys (payload only) */
};

/* Payload keys are Qdrant JSON paths ("a", "a.b", "a[].b"), selected as
 * payload.h's payload_select does. */
typedef struct {
    int mode; /* COLLECTION_SEL_* */
    const char *const *keys;
    size_t n_keys;
} CollectionSelector;

typedef struct {
    PointId id;
    float score;          /* search and recommend; 0 otherwise */
    const char *payload;  /* JSON object text; NULL when not selected */
    size_t payload_len;
    const float **vectors; /* [config.n_vectors]: NULL entries when absent or
                              not selected; NULL when no vector is selected */
    /* [config.n_sparse]: likewise for the sparse vectors (sorted by
     * index); NULL when the point has none of the selected ones. */
    const CollectionSparseVector **sparse;
    /* [config.n_vectors]: the multivectors, where `vectors` has NULL
     * (a multivector is never in `vectors`); NULL when the point has none
     * of the selected ones. */
    const CollectionMultiVector **multi;
} CollectionPoint;

typedef struct {
    CollectionConfig config; /* the collection's, for writing vectors by name */
    CollectionPoint *points;
    size_t n;
    double *order_values; /* [n] the order_by key of each point, or NULL */
    int has_next;        /* scroll: there is a next page */
    PointId next_offset; /* scroll: its first id */
} CollectionResult;

/* ---- writes: groups of operations, one commit ---- */

typedef enum {
    COLLECTION_OP_UPSERT = 0,        /* points: insert or replace whole points */
    COLLECTION_OP_DELETE,            /* ids or filter: delete points (missing ids ignored) */
    COLLECTION_OP_SET_PAYLOAD,       /* ids or filter: merge payload (under key) */
    COLLECTION_OP_OVERWRITE_PAYLOAD, /* ids or filter: replace the payload by payload */
    COLLECTION_OP_DELETE_PAYLOAD,    /* ids or filter: remove the key paths in keys */
    COLLECTION_OP_CLEAR_PAYLOAD,     /* ids or filter: empty the payload */
    COLLECTION_OP_UPDATE_VECTORS,    /* points: replace only the vectors given */
    COLLECTION_OP_DELETE_VECTORS,    /* ids or filter: remove the named vectors */
} CollectionOpKind;

/* Which points an upsert may write (Qdrant's update_mode). */
typedef enum {
    COLLECTION_UPSERT_ANY = 0,    /* insert new points, replace existing ones */
    COLLECTION_UPSERT_INSERT_ONLY, /* only points that do not exist yet */
    COLLECTION_UPSERT_UPDATE_ONLY, /* only points that exist */
} CollectionUpdateMode;

/*
 * One operation. Points are selected by ids (n_ids of them) or, with ids
 * NULL, by filter (NULL matches every point). Rules, as Qdrant's:
 *   - upsert: every point is validated (id, payload object or NULL, known
 *     vector names, dimensions, finite values; cosine vectors are
 *     normalised); a point given twice: the last one wins; vectors not
 *     given are removed from an existing point.
 *   - update_vectors: only the named vectors given are replaced, the
 *     others and the payload are kept (each point needs at least one
 *     vector); a missing point is ERR_NOTFOUND.
 *   - payload updates and delete_vectors on ids: a missing point is
 *     ERR_NOTFOUND ("No point with id N found"); delete ignores missing
 *     ids; by filter, the points matching at that moment of the write.
 *   - delete_vectors: vector_names must all exist ("Not existing vector
 *     name error: x").
 * Operations of one write see the effects of the ones before them.
 */
typedef struct {
    CollectionOpKind kind;
    const CollectionPointIn *points; /* upsert, update_vectors */
    size_t n_points;
    /* Upsert: NULL, or one blob per point. A point upserted without one
     * has none (an existing point's is deleted, as the whole point is
     * replaced); blobs are deleted with their points. */
    const CollectionBlob *blobs;
    const PointId *ids; /* the points; NULL: those the filter matches */
    size_t n_ids;
    const JsonValue *filter;
    const JsonValue *payload; /* set / overwrite payload: an object */
    const char *key;          /* set payload: nested key path, or NULL */
    const JsonValue *keys;    /* delete payload: an array of key paths */
    const char *const *vector_names; /* delete vectors */
    size_t n_vector_names;
    /* Upsert: which points it writes; the points it leaves alone are not
     * counted in n_affected. */
    CollectionUpdateMode update_mode;
    /* Upsert and update_vectors: NULL, or a filter an existing point must
     * match to be written (Qdrant's update_filter: a point that does not
     * match keeps its state; one that does not exist is not affected by
     * the filter). */
    const JsonValue *update_filter;
} CollectionOp;

/*
 * A database record: a key and a value that the layers above the engine
 * keep in the database (an embedding cache entry keyed by an image's
 * digest, a settings document), outside any collection. Keys are the
 * owner's business; by convention they start with the owner's name and a
 * '/' ("v1/...") so owners never collide. A key is 1..
 * COLLECTION_MAX_RECORD_KEY bytes, a value at most COLLECTION_MAX_RECORD.
 */
typedef struct {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
} CollectionRecord;

/*
 * One write: the operations of one client request, applied in order and
 * atomically (all or none). collection (a name or an alias) and ops are
 * read until the write is released (see CollectionWriteHooks); the out
 * fields are set by collection_write_group. records are stored (inserted
 * or replaced) with the operations, in the same sub-transaction: only
 * when the write succeeds.
 */
typedef struct {
    const char *collection;
    const CollectionOp *ops;
    size_t n_ops;
    const CollectionRecord *records;
    size_t n_records;
    /* out: */
    int status;            /* 0, or the ERR_* the write failed with */
    char err[256];         /* the message when status != 0 */
    uint64_t operation_id; /* status 0: strictly increasing per database, persisted */
    size_t n_affected;     /* points upserted, deleted or changed, over all ops */
} CollectionWrite;

/*
 * Called for each successful write of a group, on the calling thread,
 * with the Db's write lock held (so they must not write; they may read).
 *   durable(w): the group's commit is on disk (fsync returned). Return
 *     nonzero to release w: the engine then never touches w again (the
 *     caller may free it at once, e.g. after answering a wait=false
 *     client) and visible is not called for it. Return 0 to keep it.
 *   visible(w): the write is in the in-memory node table and graphs, so
 *     any search started from now on sees it (wait=true clients).
 * Either may be NULL (a NULL durable keeps every write).
 */
typedef struct {
    int (*durable)(CollectionWrite *w, void *ctx);
    void (*visible)(CollectionWrite *w, void *ctx);
    void *ctx;
} CollectionWriteHooks;

/*
 * collection_write_group applies writes[0..n) in order, in one LMDB write
 * transaction (one fsync). Each write is validated and applied inside a
 * sub-transaction: one that fails (unknown collection, bad input, missing
 * point) gets its own status and message and leaves no trace; the others
 * commit. Then durable hooks, then the memory changes, then visible hooks
 * (hooks may be NULL). Returns 0 when the group's transaction committed
 * (look at each write's status), or a storage error (ERR_FULL, ERR_IO,
 * ...) that failed the whole group: every write then carries it and
 * nothing changed.
 *
 * The graph records a group changes are saved by the next group's
 * transaction; collection_db_flush saves them now (collection_db_close
 * calls it). collection_db_idle is what a writer calls when its queue runs
 * empty: it saves them only when no idle save happened in the last
 * COLLECTION_IDLE_SAVE_INTERVAL seconds, so a client writing one batch
 * (or one point) at a time costs one commit per write, not two. What stays
 * unsaved meanwhile is one group's changes at most (the next group saves
 * them), named by pending markers: a crash replays them at open.
 */
#define COLLECTION_IDLE_SAVE_INTERVAL 5.0
int collection_db_idle(Db *db);
int collection_write_group(Db *db, CollectionWrite *const *writes, size_t n,
                           const CollectionWriteHooks *hooks);
int collection_db_flush(Db *db);

/* ---- single writes (each a one-write group) ---- */

/* collection_upsert inserts or replaces a batch of points (see
 * COLLECTION_OP_UPSERT); on any error nothing changes. */
int collection_upsert(Db *db, const char *name, const CollectionPointIn *points, size_t n,
                      char *err, size_t errlen);

/* collection_delete_points deletes ids (missing ones are ignored);
 * *n_deleted (may be NULL) receives how many existed. */
int collection_delete_points(Db *db, const char *name, const PointId *ids, size_t n,
                             size_t *n_deleted);
/* collection_delete_by_filter deletes every point the JSON filter matches. */
int collection_delete_by_filter(Db *db, const char *name, const JsonValue *filter,
                                size_t *n_deleted, char *err, size_t errlen);

/*
 * Payload updates (the COLLECTION_OP_*_PAYLOAD operations). The points are
 * named by ids, or (ids NULL) matched by filter. set merges payload into
 * each point's payload (payload.h's payload_set; key: a nested key path to
 * merge under, or NULL); overwrite replaces it by payload; delete removes
 * the key paths in keys (an array of strings); clear empties it. Missing
 * ids: ERR_NOTFOUND and nothing changed (as Qdrant).
 */
typedef struct {
    const PointId *ids; /* NULL: the points the filter matches */
    size_t n_ids;
    const JsonValue *filter;  /* with ids NULL; NULL matches every point */
    const JsonValue *payload; /* set, overwrite: an object */
    const char *key;          /* set: nested key path, or NULL */
    const JsonValue *keys;    /* delete: an array of key paths */
} CollectionPayloadUpdate;

int collection_set_payload(Db *db, const char *name, const CollectionPayloadUpdate *u, char *err,
                           size_t errlen);
int collection_overwrite_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                                 char *err, size_t errlen);
int collection_delete_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                              char *err, size_t errlen);
int collection_clear_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                             char *err, size_t errlen);

/*
 * collection_blob_get copies the blob of point id (see CollectionPointIn)
 * into arena. ERR_NOTFOUND when the collection, the point or its blob
 * does not exist.
 */
int collection_blob_get(Db *db, const char *name, const PointId *id, Arena *arena,
                        const void **data, size_t *len);

/* ---- database records (see CollectionRecord) ---- */

/* collection_record_get copies the value of key into arena (NUL-terminated
 * past vlen, so a text value can be read as a string). ERR_NOTFOUND when
 * absent. Any thread, one short read transaction. */
int collection_record_get(Db *db, const void *key, size_t klen, Arena *arena, void **val,
                          size_t *vlen);
/* collection_record_put stores records[0..n) (vlen 0 with val NULL
 * deletes the key) in one write transaction of its own, durable on
 * return. For the writer thread, like every write. ERR_INVAL for a key or
 * value out of bounds. */
int collection_record_put(Db *db, const CollectionRecord *records, size_t n);

/* collection_get returns the points that exist among ids, in the order
 * asked (missing ids are skipped, as Qdrant does). */
int collection_get(Db *db, const char *name, const PointId *ids, size_t n,
                   const CollectionSelector *with_payload, const CollectionSelector *with_vectors,
                   Arena *arena, CollectionResult *out);

typedef struct {
    const PointId *offset; /* first id of the page, or NULL */
    size_t limit;          /* 0: 10 */
    const JsonValue *filter;
    CollectionSelector with_payload, with_vectors;
} CollectionScroll;

/* collection_scroll returns up to limit points in id order from offset,
 * matching the filter; has_next / next_offset name the next page. */
int collection_scroll(Db *db, const char *name, const CollectionScroll *req, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen);

/* collection_count counts the points matching filter (NULL: all), exactly. */
int collection_count(Db *db, const char *name, const JsonValue *filter, uint64_t *count,
                     char *err, size_t errlen);

typedef struct {
    const char *key; /* payload key with an integer, float or datetime index */
    int desc;        /* 1: descending */
    int has_start;
    double start; /* inclusive: asc values >= start, desc values <= start;
                     datetime indexes: microseconds since the epoch */
    size_t limit; /* 0: 10 */
    const JsonValue *filter;
    CollectionSelector with_payload, with_vectors;
} CollectionOrderBy;

/*
 * collection_order_by returns up to limit points matching the filter in
 * the order of their values at key (Qdrant's order_by): ascending or
 * descending by value, ties by point id in the same direction; a point
 * with several values comes once per distinct value. out->order_values
 * holds each result's value (an integer index gives integer values only,
 * a datetime index microseconds). No next page (has_next 0). ERR_INVAL
 * with Qdrant's message when key has no integer, float or datetime index.
 */
int collection_order_by(Db *db, const char *name, const CollectionOrderBy *req, Arena *arena,
                        CollectionResult *out, char *err, size_t errlen);

/* Facet hits returned when a request sets no limit (Qdrant's default). */
#define COLLECTION_DEFAULT_FACET_LIMIT 10

typedef struct {
    const char *key; /* payload key with a keyword, integer, uuid or bool index */
    size_t limit;    /* 0: COLLECTION_DEFAULT_FACET_LIMIT */
    const JsonValue *filter;
} CollectionFacet;

enum { COLLECTION_FACET_STRING = 0, COLLECTION_FACET_INT = 1, COLLECTION_FACET_BOOL = 2 };

typedef struct {
    int kind;        /* COLLECTION_FACET_* */
    const char *str; /* STRING: a keyword, or a UUID written canonically */
    int64_t i;       /* INT */
    int b;           /* BOOL */
    uint64_t count;  /* points holding the value */
} CollectionFacetHit;

/*
 * collection_facet counts, for each value of key, the points matching the
 * filter that hold it (Qdrant's facet), from the key's payload index: a
 * point counts once per distinct value. *hits (in the arena) are the
 * limit most frequent values, by count descending then value ascending.
 * ERR_INVAL with Qdrant's message when key has no keyword, integer, uuid
 * or bool index.
 */
int collection_facet(Db *db, const char *name, const CollectionFacet *req, Arena *arena,
                     CollectionFacetHit **hits, size_t *n_hits, char *err, size_t errlen);

typedef struct {
    const char *using; /* vector name; NULL or "" for the only/unnamed vector */
    const float *vector;
    size_t dim;
    size_t limit; /* 0: 10 */
    size_t offset;
    int ef;     /* 0: the index default */
    int exact;  /* 1: brute force (Qdrant's params.exact) */
    /* Qdrant's params.quantization, for a quantized graph (zero: the
     * defaults): quant_ignore (walk the graph on codes but rank all ef
     * candidates by their float32 originals), quant_no_rescore (Qdrant's
     * rescore: false: approximate scores) and quant_oversampling
     * (candidates = limit x oversampling before rescoring; 0: 1). */
    int quant_ignore;
    int quant_no_rescore;
    double quant_oversampling;
    const JsonValue *filter;
    int has_score_threshold;
    float score_threshold; /* cosine/dot: score >= t; euclid: distance <= t */
    CollectionSelector with_payload, with_vectors;
    /* Non-NULL: a sparse query on the sparse vector `using` (vector and
     * dim unused); only points sharing an index with it are results.
     * Any index order; indices unique. */
    const CollectionSparseVector *sparse;
    /* Non-NULL: a multivector query on the multivector `using` (vector
     * and dim unused), scored by MaxSim; a plain vector is a list of one.
     * Every point having the vector is scored (exactly, no graph).
     * Scores: the MaxSim sum for cosine and dot, its postprocessed form
     * for euclid (sqrt(|sum|) of the negated squared distances) and
     * manhattan (|sum|), as Qdrant reports them; a threshold keeps
     * score >= t, or <= t for euclid and manhattan. */
    const CollectionMultiVector *multi;
} CollectionSearch;

int collection_search(Db *db, const char *name, const CollectionSearch *req, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen);

typedef enum {
    COLLECTION_RECO_AVERAGE_VECTOR = 0,
    COLLECTION_RECO_BEST_SCORE = 1,
    COLLECTION_RECO_SUM_SCORES = 2,
} CollectionRecoStrategy;

typedef struct {
    const PointId *positive;
    size_t n_positive;
    const PointId *negative;
    size_t n_negative;
    const float *const *positive_vectors; /* raw vectors, dim of `using` each */
    size_t n_positive_vectors;
    const float *const *negative_vectors;
    size_t n_negative_vectors;
    /* Raw sparse examples (for a sparse `using`). */
    const CollectionSparseVector *positive_sparse;
    size_t n_positive_sparse;
    const CollectionSparseVector *negative_sparse;
    size_t n_negative_sparse;
    /* Raw multivector examples (for a multivector `using`). */
    const CollectionMultiVector *positive_multi;
    size_t n_positive_multi;
    const CollectionMultiVector *negative_multi;
    size_t n_negative_multi;
    CollectionRecoStrategy strategy;
    /* using, limit, offset, ef, exact, filter, score_threshold and the
     * selectors as for a search. search.dim is the length of every raw
     * example vector (checked against the vector's size when there are
     * raw examples); search.vector is ignored. */
    CollectionSearch search;
} CollectionRecommend;

/*
 * collection_recommend finds points near the positive examples and far
 * from the negative ones, excluding the example points themselves.
 * average_vector searches avg(pos) + (avg(pos) - avg(neg)) (just avg(pos)
 * without negatives); best_score scores a candidate by its best positive
 * similarity s as sigmoid(s) when it beats the best negative one, else
 * -sigmoid(best negative); sum_scores by sum(pos) - sum(neg) (Qdrant's
 * formulas, sigmoid(x) = 0.5 * (x / (1 + |x|) + 1)). For euclid the
 * similarity is the negated distance. On a sparse vector the average is
 * taken over the union of indices (a missing index counts 0) and searched
 * like a sparse query; best_score and sum_scores score every point that
 * has the vector, a similarity without shared index being 0 (Qdrant).
 * On a multivector (Qdrant's recommendations.rs): every example is a
 * multivector (a raw plain vector a list of one) and a similarity is
 * MaxSim with the example as the query; average_vector averages raw
 * plain examples as vectors but concatenates multivector examples (the
 * negatives' negated) into one query, and mixing the two kinds is
 * ERR_INVAL, as in Qdrant.
 */
int collection_recommend(Db *db, const char *name, const CollectionRecommend *req,
                         Arena *arena, CollectionResult *out, char *err, size_t errlen);

/* One example of a discovery: a point id, or a raw dense vector. */
typedef struct {
    int by_id;
    PointId id;
    const float *vector; /* dim floats when !by_id */
    size_t dim;
} CollectionExample;

typedef struct {
    /* NULL: a context search (pairs only); else a discovery search. */
    const CollectionExample *target;
    /* n_pairs context pairs: positive[i] against negative[i]. */
    const CollectionExample *positive;
    const CollectionExample *negative;
    size_t n_pairs;
    /* using, limit, offset, ef, exact, filter, score_threshold and the
     * selectors as for a search; search.vector and search.dim unused. */
    CollectionSearch search;
} CollectionDiscover;

/*
 * collection_discover runs Qdrant's discovery search (with a target) or
 * context search (without), excluding the example points themselves.
 * With s(x) the raw similarity of a candidate to x (as for recommend:
 * dot product, or the negated squared L2 / L1 distance):
 *   discovery: rank + 0.5 * (s(t) / (1 + |s(t)|) + 1), rank summing over
 *              the pairs +1, 0 or -1 as s(pos) is above, equal to or
 *              below s(neg) (in float total order);
 *   context:   the sum over the pairs of m / (1 + |m|),
 *              m = min(s(pos) - s(neg) - FLT_EPSILON, 0)
 * (discover_query.rs, context_query.rs). Every point having the vector
 * is scored (exactly, no graph search). Dense vectors only: a sparse or
 * multivector `using` is ERR_INVAL. A context search without pairs
 * scores every point 0.
 */
int collection_discover(Db *db, const char *name, const CollectionDiscover *req, Arena *arena,
                        CollectionResult *out, char *err, size_t errlen);

/* ---- multivectors ---- */

/*
 * collection_multivec_prepare prepares n vectors of p's size in place as
 * the engine stores them and queries with them: each normalised under
 * cosine (except uint8, which Qdrant keeps as given), then rounded to
 * p's datatype. collection_multivec_score is MaxSim's raw score of the
 * prepared multivector d against the prepared query q on p's metric
 * (larger is closer; no postprocessing): what Qdrant's MMR compares
 * multivectors by.
 */
void collection_multivec_prepare(const CollectionVectorParams *p, float *v, size_t n);
float collection_multivec_score(const CollectionVectorParams *p, const CollectionMultiVector *q,
                                const CollectionMultiVector *d);

#endif
