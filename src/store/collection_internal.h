/*
 * collection_internal.h - what the files of the collection engine share:
 * the Collection and Db structs and the helpers one phase calls in
 * another. Not for other modules: they use collection.h.
 *
 * The engine is split by phase, as pgvector splits its HNSW:
 *   collection_config.c  configuration: validation, the persisted config
 *                        record, and the catalogue (create, delete, info,
 *                        list)
 *   collection_open.c    opening a data directory: load, replay, graph
 *                        persistence (dirty tracking and saving), close,
 *                        locks, the graph digest
 *   collection_write.c   write groups (upsert, delete, payload and vector
 *                        updates; group commit) and the single writes
 *   collection_read.c    scanning points, output selection, get, scroll,
 *                        count
 *   collection_search.c  the planner, exact scan, top-k, search,
 *                        recommend
 *   collection_sparse.c  sparse vectors: their records, the in-memory
 *                        inverted indexes, sparse search and recommend
 *                        (the other phases call it through the coll_sparse_*
 *                        hooks below)
 *   collection_index.c   payload indexes: definitions, building,
 *                        upkeep on writes, filters over them, order_by
 *   collection_snapshot.c  one collection to a file and back (snapshots,
 *                        recovery)
 *   collection_multivec.c  multivectors: their records, which nodes have
 *                        them, MaxSim search and recommend (through the
 *                        coll_multi_* hooks)
 *   collection_record.c  points' blobs and database records (the
 *                        API layer's data outside collections)
 *   collection_vectors.c dense vectors on disk: blocks of K nodes per
 *                        record, the accessor every reader uses
 *                        (coll_vector_get), and the migration of the
 *                        format 1 layout
 *   collection_optimize.c  rebuilding graphs for new HNSW parameters:
 *                        in the request for a small collection, on a
 *                        background thread for a large one (Qdrant's
 *                        optimizer), resumed after a crash
 *   collection_blocks.c  payload blocks: in-memory subgraphs of keyword
 *                        and integer values (Qdrant's payload_m), their
 *                        thread, and the block a filtered search walks
 * Every function here is prefixed coll_ (the engine's private namespace);
 * the public ones in collection.h are collection_*.
 */
#ifndef VITRINE_COLLECTION_INTERNAL_H
#define VITRINE_COLLECTION_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/util.h"
#include "index/filter.h"
#include "index/hnsw.h"
#include "index/payload_index.h"
#include "index/sparse.h"
#include "store/collection.h"
#include "store/store.h"

/* Seed of every graph's level draws, so a rebuild repeats a build. */
#define COLLECTION_HNSW_SEED 0x76697472696e65ULL
/* Scratch arenas used while scanning are released past this many bytes. */
#define COLLECTION_SCRATCH_MAX (1 << 20)
/* Default page / result size (Qdrant's). */
#define COLLECTION_DEFAULT_LIMIT 10
/* Points record header: u32 node + u32 vector mask. */
#define COLLECTION_REC_HEADER 8
/* Graph entry record: u32 entry node + u32 max level. */
#define COLLECTION_ENTRY_LEN 8
/* Sparse vector s has bit COLL_SPARSE_SLOT(s) in a point's vector mask and
 * that vector index in its STORE_DB_VECTORS key: the slots after the
 * dense vectors' (16 + 16 fill the u32 mask exactly). */
#define COLL_SPARSE_SLOT(s) (COLLECTION_MAX_VECTORS + (s))
#define COLL_SPARSE_MASK(n_sparse) \
    ((uint32_t)((((uint64_t)1 << (n_sparse)) - 1) << COLLECTION_MAX_VECTORS))
/* Every sparse slot of collection c. */
#define COLL_SPARSE_ALL(c) COLL_SPARSE_MASK((c)->config.n_sparse)

/* A writer's scratch of one block record (collection_vectors.c). */
typedef struct {
    uint8_t *p;
    size_t cap;
} CollBlockBuf;

typedef struct {
    HnswIndex *index;
    /* Nodes whose graph records changed in memory and are not yet saved
     * (writer only). */
    uint32_t *dirty;
    size_t n_dirty, dirty_cap;
    uint8_t *dirty_flag;
    size_t dirty_flag_cap;
    /* The graph is being rebuilt: the next save first deletes every
     * saved record of it, so stale records of nodes left out are gone. */
    int wipe;
} CollIndex;

/* The nodes having one multivector: has[node] is 1 for those. */
typedef struct {
    uint8_t *has; /* [cap] */
    uint32_t cap;
    uint64_t count; /* nodes with has[node] == 1 */
} CollMulti;

/*
 * A background rebuild of graphs (collection_optimize.c). The writer owns
 * it: every field changes under Db.write, except cancel (atomic) and what
 * the thread itself reads while building (target, mask, unbare: fixed
 * while it runs). While active, the collection's stored configuration is
 * target, and its live one (Collection.config) differs only in the
 * exact_only flags of the graphs being rebuilt: they are searched as
 * before until the new graphs are swapped in.
 */
typedef struct {
    int active;  /* graphs are owed a rebuild (running, or failed: see error) */
    int running; /* the thread was started and is not joined yet */
    int cancel;  /* atomic: the thread stops at its next check */
    int noting;  /* atomic: writers note their nodes (a thread is building) */
    uint32_t mask;   /* bit v: graph v is rebuilt */
    uint32_t unbare; /* bit v: from a bare graph: loaded on every core */
    CollectionConfig target;
    pthread_t thread;
    /* Nodes written since the rebuild began, brought into the new graphs
     * before they are swapped in (may repeat). */
    uint32_t *changed;
    size_t n_changed, changed_cap;
    /* The last failure, "" for none; read under Collection.lock. */
    char error[COLLECTION_OPTIMIZER_ERROR_MAX];
    /* Progress, for collection_info: when the thread started (unix
     * milliseconds), the nodes to insert and those inserted (atomic). */
    int64_t started_ms;
    uint32_t total, done;
} CollOptimize;

/* A payload block (collection_blocks.c): the subgraph of graph v over
 * the points holding one value of index ix: a keyword's term id, or an
 * integer (key). */
typedef struct {
    int v;
    const PayloadIndex *ix;
    int64_t key;
    HnswSub *sub;
    int ready; /* atomic: complete once, searches may walk it */
} CollPBlock;

/* The payload blocks of a collection and their thread. The list is read
 * under rw shared and changed under it exclusively, with Collection.lock
 * held (shared is enough); mu and cv wake the thread. */
typedef struct {
    CollPBlock *b;
    size_t n, cap;
    pthread_rwlock_t rw;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dirty;   /* under mu: something changed since the last pass */
    int stop;    /* under mu (read atomically by the thread) */
    int running; /* under mu: thread started and not joined */
    pthread_t thread;
    /* Nodes whose vector changed since the thread last relinked them in
     * the blocks holding them: searches scan them exactly meanwhile. Set
     * by the writer after the graph took the vector, cleared by the
     * thread, bits atomic; grown by the writer under Collection.lock
     * exclusively, so readers holding it shared see a stable array. */
    uint64_t *stale;
    size_t stale_words;
} CollPBlocks;

typedef struct Collection {
    char *name;
    uint32_t cid;
    CollectionConfig config;
    int64_t created_at;
    CollIndex idx[COLLECTION_MAX_VECTORS];
    /* The inverted index of each sparse vector: read under the node-table
     * lock shared, changed under it exclusively (sparse.h has no locks). */
    SparseIndex *sparse[COLLECTION_MAX_SPARSE];
    /* Which nodes have each multivector (collection_multivec.c), by dense
     * vector index; under the node-table lock as the sparse indexes. */
    CollMulti multi[COLLECTION_MAX_VECTORS];
    /* Node table: readers shared, the writer exclusive while it edits. */
    pthread_rwlock_t lock;
    PointId *node_ids; /* [node_cap] the point owning each node */
    uint8_t *node_live; /* [node_cap] 1 when a point owns it */
    uint32_t node_cap;
    uint32_t node_high; /* 1 + the highest node ever used */
    uint64_t points_count;
    /* Writer-only state. */
    uint32_t *free_nodes; /* top of the stack (end) is handed out first */
    size_t n_free, free_cap;
    uint32_t *pending; /* nodes whose pending markers the next save deletes */
    size_t n_pending, pending_cap;
    /* Node allocation inside a write group's transaction (see
     * collection_write.c): free nodes taken, and the next new node. */
    size_t g_free_taken;
    uint32_t g_high;
    /* Update operations applied (Qdrant's op_num: the sequence number of
     * the last one, counting from 1), persisted in the meta record
     * COLL_META_OPS; changed by the writer under `lock` held exclusively.
     * g_ops: those of the write group in progress. */
    uint64_t op_num;
    uint64_t g_ops;
    /* The bytes of the payloads the points hold (the JSON text stored;
     * strict mode's payload storage size), counted at open and kept by
     * the writer as op_num; g_payload_bytes: the group's change. */
    int64_t payload_bytes;
    int64_t g_payload_bytes;
    uint32_t *links; /* scratch for hnsw_node_get */
    size_t links_cap;
    int counts[HNSW_MAX_LEVEL + 1];
    uint8_t *blob; /* scratch for hnsw_node_encode */
    size_t blob_cap;
    float *vec; /* scratch: one vector of the largest dimension */
    CollBlockBuf blocks; /* writer's scratch: one dense vector block */
    /* Payload indexes (collection_index.c), by field; changed by the
     * writer with `lock` held exclusively, read under it shared. */
    PayloadIndex **pindex;
    char **pindex_params; /* [n_pindex] the opaque params text of each */
    size_t n_pindex;
    CollOptimize opt;
    CollPBlocks pblocks;
} Collection;

/* An alias: another name of a collection (collection_alias.c). */
typedef struct {
    char *alias;
    char *collection;
} CollAlias;

struct Db {
    Store *store;
    uint64_t full_scan_threshold;
    uint64_t full_scan_bytes; /* DbOptions.full_scan_bytes resolved */
    int scan_fixed; /* the threshold was given: no cost model (tests) */
    uint64_t plans[5]; /* searches run per plan (atomic; collection_db_plans) */
    pthread_rwlock_t lock;  /* the collection list and aliases: shared by operations */
    pthread_mutex_t write;  /* one writer at a time */
    Collection **colls;
    size_t n_colls, cap_colls;
    CollAlias *aliases;
    size_t n_aliases, cap_aliases;
    double last_idle_save; /* now_seconds() of collection_db_idle's last save (writer only) */
    uint64_t rebuild_async_min; /* DbOptions.rebuild_async_min resolved */
    int (*block_m)(const CollectionConfig *cfg, int v); /* DbOptions.block_m */
    int (*block_index)(const char *params);             /* DbOptions.block_index */
    int *optimize_hold;         /* DbOptions.optimize_hold */
};

/* coll_is_distance: vector v's score is a distance (Euclid, Manhattan),
 * smaller being closer, rather than a similarity. */
static inline int coll_is_distance(const Collection *c, int v)
{
    CollectionDistance d = c->config.vectors[v].distance;
    return d == COLLECTION_EUCLID || d == COLLECTION_MANHATTAN;
}

/* Record tags of STORE_DB_COLLECTIONS values, after the u32 cid (0 for an
 * alias): the engine's config record, and an alias record. A config record
 * in the first, JSON encoding starts with '{' there instead. */
#define COLL_RECORD_V1 0x01
#define COLL_RECORD_ALIAS 0x02
/* The engine config record with sparse vectors (collection_config.c). */
#define COLL_RECORD_V2 0x03
/* ... and with the multivector and datatype of each dense vector. */
#define COLL_RECORD_V3 0x04
/* ... and with the quantization of each dense vector. */
#define COLL_RECORD_V4 0x05
/* ... and with the exact_only flag of each dense vector. */
#define COLL_RECORD_V5 0x06

static inline void coll_grow_u32(uint32_t **a, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need) n *= 2;
    *a = xrealloc(*a, n * sizeof **a);
    *cap = n;
}

/* ---- collection_config.c ---- */

/* coll_name_valid: 1 when name may name a collection or an alias. */
int coll_name_valid(const char *name);
/* coll_config_validate checks a configuration and fills in the default
 * m / ef_construct. ERR_INVAL with a message. */
int coll_config_validate(CollectionConfig *c, char *err, size_t errlen);
/* coll_vector_index resolves a vector name (NULL or "" for the unnamed
 * one) to its index, or ERR_INVAL with a message. */
int coll_vector_index(const Collection *c, const char *name, char *err, size_t errlen);
/* The config record of STORE_DB_COLLECTIONS (after its u32 cid). */
int coll_config_record_parse(const char *name, Slice val, uint32_t *cid, CollectionConfig *cfg,
                             int64_t *created);
void coll_config_record_build(const CollectionConfig *cfg, int64_t created, Buf *out);

/* ---- collection_open.c ---- */

int coll_new(const char *name, uint32_t cid, const CollectionConfig *cfg, int64_t created,
             Collection **out);
void coll_free(Collection *c);
/* coll_node_table_reserve grows the node table to hold nodes < need.
 * Called by the writer with the collection lock held exclusively (or at
 * open). */
void coll_node_table_reserve(Collection *c, uint32_t need);
/* coll_apply_vector brings graph v of node in line with the committed
 * state (see collection_open.c). */
void coll_apply_vector(Collection *c, int v, uint32_t node, const float *vec, int force);
/*
 * coll_apply_inserts is coll_apply_vector(c, v, nodes[i], vecs[i], 0) for
 * n distinct nodes, which must not be in graph v yet (new points, or
 * points that did not have vector v): from COLL_PARALLEL_INSERT_MIN nodes
 * on they are inserted by coll_build_threads() threads at once (the
 * order, hence the graph, then varies from run to run; below it, the
 * build repeats exactly). A bare graph (exact_only) takes them on the
 * writer alone: each is a copy. Writer only.
 */
#define COLL_PARALLEL_INSERT_MIN 64
#define COLL_BUILD_THREADS_MAX 8
size_t coll_build_threads(void);
void coll_apply_inserts(Collection *c, int v, const uint32_t *nodes, const float *const *vecs,
                        size_t n);
/* coll_add_pending remembers a node whose pending marker the next graph
 * save deletes. */
void coll_add_pending(Collection *c, uint32_t node);
/*
 * Saving the graph: coll_graph_dirty says whether c has graph records or
 * pending markers not yet saved; coll_graph_save_txn writes the dirty
 * records and deletes the pending markers inside the caller's write
 * transaction, and after that transaction committed coll_graph_saved
 * forgets them (a no-op for a clean collection). coll_graph_save does all
 * three in a transaction of its own. Writer only.
 */
int coll_graph_dirty(const Collection *c);
int coll_graph_save_txn(StoreTxn *txn, Collection *c);
void coll_graph_saved(Collection *c);
int coll_graph_save(Db *db, Collection *c);
/*
 * Rebuilding a graph with other parameters (collection_update):
 * coll_graph_rebuild makes a new graph for vector v with cfg's m and
 * ef_construct from the live nodes of the current one: in node order, so
 * that it repeats a build (the levels and the links), or with parallel
 * on coll_build_threads() threads as coll_apply_inserts inserts (the
 * levels repeat, the links vary); coll_graph_put_all replaces every saved record of
 * graph v by h's, inside the caller's transaction; after the commit,
 * coll_graph_replace swaps the new graphs in (h[v] for each vector, a
 * NULL one keeping its graph; the old ones are freed, the new ones have
 * nothing dirty and nothing is left pending). Writer only.
 */
typedef struct {
    const CollectionConfig *cfg; /* the new graphs' parameters */
    uint32_t rebuild;  /* bit v: graph v is rebuilt */
    uint32_t parallel; /* bit v: on every core (a first build from bare nodes) */
    uint32_t high;     /* the nodes read are those below it */
    const int *cancel; /* atomic, or NULL: set, the build stops with ERR_BUSY */
    uint32_t *done;    /* atomic, or NULL: counts the nodes inserted */
} CollRebuild;
int coll_graph_rebuild(Collection *c, const CollRebuild *r, int v, HnswIndex **out);
/* coll_index_params: the HNSW parameters of graph v of cfg (m, ef, seed,
 * quantization when calibrated, bare nodes when exact_only). */
void coll_index_params(const CollectionConfig *cfg, int v, HnswParams *p);
int coll_graph_put_all(StoreTxn *txn, Collection *c, int v, HnswIndex *h);
void coll_graph_replace(Collection *c, HnswIndex *const *h);
/* coll_load makes the memory state of collection name from the store:
 * rec is its collections record (u32 cid + config record); the nodes its
 * pending markers name are replayed and saved, as collection_db_open does
 * for each collection. The new collection is in no list yet; a rebuild
 * its marker owes is for the caller to start (coll_optimize_resume) once
 * it is. */
int coll_load(Db *db, const char *name, Slice rec, Collection **out);
/* The collection list (caller holds Db.lock or Db.write):
 * coll_db_find_collection finds a collection by its own name,
 * coll_db_find by its name or an alias of it. Then the locks of a read
 * or a write operation on a named (or aliased) collection. */
Collection *coll_db_find_collection(Db *db, const char *name);
Collection *coll_db_find(Db *db, const char *name);
int coll_read_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen);
void coll_read_end(Db *db, Collection *c);
int coll_write_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen);
void coll_write_end(Db *db);

/* ---- collection_optimize.c ---- */

/* The pending-marker node that records graphs owed a rebuild: key
 * (cid, COLL_REBUILD_MARK) in STORE_DB_PENDING, value the u32 mask of
 * them. Never a node (HNSW_MAX_NODES is below it), so an earlier build
 * replays it as a node that does not exist, a no-op. */
#define COLL_REBUILD_MARK 0xffffffffu
/*
 * coll_graphs_build makes the new graphs r asks for (graphs[v] for each
 * bit of r->rebuild; NULL elsewhere): from the live graphs' vectors, or
 * from the stored float32 ones when the int8 interval changes. On error
 * none is left. coll_graphs_install commits cfg and the new graphs (their
 * every record, the pending markers gone) and swaps them in, applies the
 * exact_only flags cfg names, marks no rebuild owed and runs
 * coll_quant_sync; it frees graphs whatever happens.
 * Writer only for install; build reads only what the writer leaves alone
 * (the live graphs through their own locks, the store in a transaction of
 * its own).
 */
int coll_graphs_build(Db *db, Collection *c, const CollRebuild *r, HnswIndex **graphs);
int coll_graphs_install(Db *db, Collection *c, const CollectionConfig *cfg, uint32_t rebuild,
                        HnswIndex **graphs);
/*
 * coll_optimize_begin stores cfg as c's configuration with graphs
 * `rebuild` owed (the marker) and starts the background rebuild; graphs
 * in `unbare` are first builds from bare nodes. Writer only; the caller
 * has stopped any earlier rebuild (coll_optimize_stop) and merged it in.
 */
int coll_optimize_begin(Db *db, Collection *c, const CollectionConfig *cfg, uint32_t rebuild,
                        uint32_t unbare);
/* coll_optimize_retarget stores cfg, which builds the graphs a running
 * rebuild builds (only options and sparse modifiers differ from its
 * target), and makes it the target and the live settings, the rebuild
 * going on. Writer only. */
int coll_optimize_retarget(Db *db, Collection *c, const CollectionConfig *cfg);
/* coll_optimize_resume starts the rebuild a marker owed at open (the
 * graphs of opt.mask are bare then). */
void coll_optimize_resume(Db *db, Collection *c);
/* coll_optimize_stop cancels and joins c's rebuild thread, if any; what
 * it owed stays owed (opt.active). Writer or the collection's last owner. */
void coll_optimize_stop(Collection *c);
/* coll_optimize_owe sets opt.active (under the node-table lock, as
 * collection_info reads it). Writer only. */
static inline void coll_optimize_owe(Collection *c, int active)
{
    pthread_rwlock_wrlock(&c->lock);
    c->opt.active = active;
    pthread_rwlock_unlock(&c->lock);
}
/* coll_optimize_note records node as written while a rebuild runs. Writer only. */
static inline void coll_optimize_note(Collection *c, uint32_t node)
{
    if (!c->opt.active || !__atomic_load_n(&c->opt.noting, __ATOMIC_ACQUIRE)) return;
    coll_grow_u32(&c->opt.changed, &c->opt.changed_cap, c->opt.n_changed + 1);
    c->opt.changed[c->opt.n_changed++] = node;
}

/* ---- collection_alias.c ---- */

/* The alias table (caller holds Db.lock, or Db.write to read it):
 * coll_alias_target is the collection an alias names (NULL: not an
 * alias); coll_alias_add adds one (at open); coll_alias_drop_collection
 * removes every alias of a collection (after its deletion committed, with
 * Db.lock exclusive); coll_alias_free_all empties the table. */
const char *coll_alias_target(Db *db, const char *name);
void coll_alias_add(Db *db, const char *alias, const char *collection);
void coll_alias_drop_collection(Db *db, const char *collection);
void coll_alias_free_all(Db *db);
/* Alias records: coll_alias_record_is tells one from a collection's
 * record; put / del write them inside the caller's transaction. */
int coll_alias_record_is(Slice val);
int coll_alias_record_put(StoreTxn *txn, const char *alias, const char *collection);
int coll_alias_record_del(StoreTxn *txn, const char *alias);

/* ---- collection_snapshot.c ---- */

/* coll_snapshot_cleanup deletes the records of every cid marked dead
 * (the collection a recover replaced, or one a recover was staging when
 * the process died); collection_db_open calls it after loading. */
int coll_snapshot_cleanup(Db *db);

/* ---- collection_read.c ---- */

/* One point as a scan sees it; payload points into the transaction. */
typedef struct {
    PointId id;
    uint32_t node;
    uint32_t mask;
    const char *payload;
    size_t payload_len;
} ScanRec;

typedef int (*ScanFn)(void *ctx, const ScanRec *r); /* nonzero stops the scan */

/* Scratch arena for parsing payloads one at a time. */
typedef struct {
    Arena arena;
} Scratch;

static inline void coll_scratch_init(Scratch *s) { arena_init(&s->arena, 16 * 1024); }
static inline void coll_scratch_free(Scratch *s) { arena_free(&s->arena); }

/* coll_payload_parse parses stored payload text; "{}" gives NULL (empty). */
const JsonValue *coll_payload_parse(Scratch *s, const char *text, size_t len);
/* coll_point_lookup reads one point's record. */
int coll_point_lookup(Collection *c, StoreTxn *txn, const PointId *id, ScanRec *r);
/* ---- collection_quant.c ---- */

/* coll_graph_quantized: 1 when graph v walks int8 codes (its float32
 * originals live only in the store). */
static inline int coll_graph_quantized(const Collection *c, int v)
{
    return c->config.vectors[v].quant.type == COLLECTION_QUANT_INT8 &&
           c->config.vectors[v].quant.calibrated;
}
/*
 * coll_quant_sync brings every graph of c in line with its quantization
 * setting: a graph to be quantized with at least COLLECTION_QUANT_MIN_POINTS
 * points gets its interval calibrated from the stored vectors, a graph
 * whose setting changed (or was turned off) is converted; the config
 * record is saved and the graph swapped (same links, new representation).
 * For the writer (caller holds db->write). 0 or an error (the graphs are
 * then left as they were). While a background rebuild is owed it does
 * nothing: the rebuild runs it when it has swapped its graphs in.
 */
int coll_quant_sync(Db *db, Collection *c);
/* coll_graph_same_codes: would graph v under cfg hold the codes it holds
 * now (quantized both ways, the same interval)? */
int coll_graph_same_codes(const Collection *c, const CollectionConfig *cfg, int v);
/* coll_graph_relink is coll_graph_rebuild (one thread) for any graph, quantized ones
 * too: the vectors inserted are the stored float32 ones (txn's view). */
int coll_graph_relink(Collection *c, StoreTxn *txn, const CollRebuild *r, int v,
                      HnswIndex **out);
/* coll_config_put saves cfg as c's config record in txn. */
int coll_config_put(StoreTxn *txn, Collection *c, const CollectionConfig *cfg);
int coll_filter_accepts(Collection *c, const Filter *f, Scratch *s, const ScanRec *r);
/* coll_scan_points calls fn for every point matching f in id order, from
 * start (NULL: the first). */
int coll_scan_points(Collection *c, StoreTxn *txn, const Filter *f, const PointId *start,
                     ScanFn fn, void *ctx);
/* coll_compile_filter compiles a JSON filter (NULL: none). */
int coll_compile_filter(const JsonValue *json, Filter **out, char *err, size_t errlen);
/* coll_query_begin compiles the filter, then takes the read locks of the
 * collection. On failure nothing is held or owned; on success the caller
 * frees *f and calls coll_read_end. */
int coll_query_begin(Db *db, const char *name, const JsonValue *filter, Collection **c,
                     Filter **f, char *err, size_t errlen);

/* Which payload keys and vectors to return, resolved against a collection. */
typedef struct {
    const CollectionSelector *payload;
    uint32_t vector_mask; /* vector indexes selected */
} Output;

int coll_output_resolve(Collection *c, const CollectionSelector *wp, const CollectionSelector *wv,
                        Output *o, char *err, size_t errlen);
int coll_output_point(Collection *c, const Output *o, StoreTxn *txn, Scratch *s, const ScanRec *r,
                      float score, Arena *arena, CollectionPoint *p);
void coll_result_init(Collection *c, CollectionResult *out, Arena *arena, size_t cap);

/* ---- collection_sparse.c ---- */

/* coll_sparse_index resolves a sparse vector's name to its index, or -1
 * when no sparse vector has that name. */
int coll_sparse_index(const Collection *c, const char *name);
/* coll_sparse_validate checks the sparse part of a configuration (names
 * unique across dense and sparse ones, modifiers). ERR_INVAL with a
 * message. */
int coll_sparse_validate(const CollectionConfig *cfg, char *err, size_t errlen);
/* coll_sparse_update applies u's modifiers to cfg (ERR_INVAL with a
 * message for a name that is not a sparse vector). */
int coll_sparse_update(CollectionConfig *cfg, const CollectionUpdate *u, char *err, size_t errlen);
/* Creating and freeing c's inverted indexes (coll_new, coll_free). */
int coll_sparse_create(Collection *c);
void coll_sparse_free(Collection *c);
/* coll_sparse_load fills the inverted indexes from the stored sparse
 * vectors of c's live nodes (at open; the node table is loaded). */
int coll_sparse_load(Collection *c, StoreTxn *txn);
/* coll_sparse_prepare validates a sparse input vector of a point and
 * copies it into arena, sorted by index: *s receives its sparse index. */
int coll_sparse_prepare(Collection *c, const char *what, const CollectionVectorIn *in,
                        Arena *arena, int *s, CollectionSparseVector *out, char *err,
                        size_t errlen);
/*
 * coll_sparse_put writes node's sparse vectors of the slots in touch,
 * inside the caller's transaction: sv[s] where mask has the slot too, a
 * deleted record where it has not; the other slots are left alone. An
 * upsert touches COLL_SPARSE_ALL(c) (the point's whole set), a deleted
 * point too with mask 0 and sv NULL; updating or deleting named vectors
 * touches just those.
 */
int coll_sparse_put(StoreTxn *txn, Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                    const CollectionSparseVector *sv);
/* coll_sparse_apply brings the inverted indexes in line with what
 * coll_sparse_put committed for node (same arguments). The caller holds
 * c->lock exclusively. */
void coll_sparse_apply(Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                       const CollectionSparseVector *sv);
/* coll_sparse_output reads the sparse vectors of node selected in want
 * (slot bits) into p->sparse. */
int coll_sparse_output(Collection *c, uint32_t want, StoreTxn *txn, uint32_t node, Arena *arena,
                       CollectionPoint *p);
/* Searches and recommendations whose `using` names a sparse vector, or
 * that carry a sparse query: the caller holds the read locks (from
 * coll_query_begin) and owns f; limit is resolved. */
int coll_sparse_search(Db *db, Collection *c, const Filter *f, const CollectionSearch *req,
                       size_t limit, Arena *arena, CollectionResult *out, char *err,
                       size_t errlen);
int coll_sparse_recommend(Db *db, Collection *c, const Filter *f, const CollectionRecommend *req,
                          size_t limit, Arena *arena, CollectionResult *out, char *err,
                          size_t errlen);
/* Live sparse vectors and their index memory, for collection_info. */
void coll_sparse_stats(Collection *c, uint64_t *vectors, size_t *memory_bytes);

/* ---- collection_write.c ---- */

/* coll_take_operation_id takes the next operation id (the counter point
 * writes use) inside a write transaction. */
int coll_take_operation_id(StoreTxn *txn, uint64_t *out);

/* A collection's applied update operations live in the meta database
 * under "ops:" + its big-endian cid (u64 little-endian; absent: 0), not
 * in a collection database: they are the store's bookkeeping of writes,
 * which a snapshot does not carry. */
#define COLL_META_OPS "ops:"
#define COLL_META_OPS_LEN 4
/* coll_ops_key writes the key of cid's record; returns its length. */
size_t coll_ops_key(uint8_t out[COLL_META_OPS_LEN + 4], uint32_t cid);
/* coll_ops_put stores `total` as cid's applied operations inside txn. */
int coll_ops_put(StoreTxn *txn, uint32_t cid, uint64_t total);
/* coll_ops_del deletes cid's record inside txn (absent is fine). */
int coll_ops_del(StoreTxn *txn, uint32_t cid);
/* coll_ops_load reads cid's applied operations (0 when absent). */
uint64_t coll_ops_load(StoreTxn *txn, uint32_t cid);
/* coll_ops_applied makes n more operations of c, and the change of its
 * payload bytes they made, visible (after their commit), under c's lock. */
void coll_ops_applied(Collection *c, uint64_t n, int64_t payload_bytes);

/* ---- collection_index.c ---- */

/* coll_index_load reads c's index definitions and builds the indexes from
 * the points in txn (open). */
int coll_index_load(StoreTxn *txn, Collection *c);
void coll_index_free(Collection *c);
/*
 * coll_index_update is the write path's one hook: node's payload is now
 * the JSON object text payload[0..len) (NULL: the point is gone). Called
 * once per changed point after the commit, with c->lock held
 * exclusively; does nothing for a collection without indexes.
 */
void coll_index_update(Collection *c, uint32_t node, const char *payload, size_t len);
/* coll_index_info adds the payload schema (and index memory) to out. */
void coll_index_info(Collection *c, CollectionInfo *out);
/* coll_filter_bind ties f to c's indexes (filter_bind; use_index 0 in
 * the write path, whose transaction runs ahead of the indexes). */
void coll_filter_bind(Collection *c, Filter *f, int use_index);
/*
 * coll_filter_node: does node pass f? Bound conditions read the indexes;
 * the payload comes from r when given (a scanned record), else from txn
 * on first need. A record whose node the node table does not agree on
 * (it lags the transaction by at most one write) is judged by its
 * payload alone; a node whose point is gone from txn fails.
 */
int coll_filter_node(Collection *c, StoreTxn *txn, const Filter *f, Scratch *s, uint32_t node,
                     const ScanRec *r);
/*
 * coll_filter_nodes calls fn for every live node matching f, in node
 * order, when it can do so without walking LMDB: from index candidates
 * (at most max_cand of them) or, when f reads no payload, over the node
 * table. Returns 1 when it did (fn's nonzero return stops it), 0 when the
 * caller should scan points instead (coll_scan_points), or an error < 0.
 */
typedef int (*NodeFn)(void *ctx, uint32_t node);
int coll_filter_nodes(Collection *c, StoreTxn *txn, const Filter *f, uint64_t max_cand, NodeFn fn,
                      void *ctx);
/* coll_filter_indexed is coll_filter_nodes from index candidates only: 0
 * when the indexes do not name at most max_cand of them (a walk of the
 * node table costs what a search should not). */
int coll_filter_indexed(Collection *c, StoreTxn *txn, const Filter *f, uint64_t max_cand,
                        NodeFn fn, void *ctx);
/* ---- collection_blocks.c ---- */

/* How long the payload blocks thread waits after a pass before the next
 * one: writes in a stream cost a pass per pause, not one per group. */
#define COLLECTION_BLOCKS_PAUSE_MS 1000

/* coll_blocks_init / coll_blocks_free: with coll_new / coll_free (free
 * stops the thread first). */
void coll_blocks_init(Collection *c);
void coll_blocks_free(Collection *c);
/* coll_blocks_wake tells the thread something changed (writes, indexes,
 * graphs), starting it when c has payload indexes. */
void coll_blocks_wake(Db *db, Collection *c);
/* coll_blocks_grow makes room in the stale bitmap for c's nodes (writer,
 * Collection.lock held exclusively); coll_blocks_mark marks node stale
 * (writer, after the graph changed node's vector). */
void coll_blocks_grow(Collection *c);
static inline void coll_blocks_mark(Collection *c, uint32_t node)
{
    if ((size_t)node / 64 < c->pblocks.stale_words)
        __atomic_fetch_or(&c->pblocks.stale[node / 64], (uint64_t)1 << (node % 64),
                          __ATOMIC_RELAXED);
}
/* coll_blocks_stop joins the thread; the blocks stay until freed. */
void coll_blocks_stop(Collection *c);
/* coll_blocks_drop_graph drops the blocks of vector v, whose graph is
 * being replaced: a block links nodes, and the new graph need not hold
 * the same ones (points deleted or without the vector are left out of a
 * rebuild). Caller holds Collection.lock exclusively; the thread builds
 * them again at its next pass. */
void coll_blocks_drop_graph(Collection *c, int v);
/* coll_blocks_forget drops the blocks of payload index ix (about to be
 * freed). Caller holds no lock of c's. */
void coll_blocks_forget(Collection *c, const PayloadIndex *ix);
/* coll_blocks_find: a complete block of graph v over points that f
 * requires a keyword term of (the smallest such), or NULL. Caller holds
 * Collection.lock shared; a non-NULL result holds the block list until
 * coll_blocks_release. */
HnswSub *coll_blocks_find(Collection *c, int v, const Filter *f);
void coll_blocks_release(Collection *c);
/* coll_value_nodes appends the nodes holding value key of ix (a keyword
 * term id or an integer, as CollPBlock.key), ascending and distinct. */
void coll_value_nodes(const PayloadIndex *ix, int64_t key, PayloadNodeList *out);
/* coll_blocks_stats: complete blocks, their members and bytes. */
void coll_blocks_stats(Collection *c, size_t *n_blocks, size_t *members, size_t *bytes);

/* ---- collection_multivec.c ---- */

/* coll_multi_mask: the dense vector indexes of c that are multivectors
 * (bits). No graph is built for them: the graph code skips them. */
static inline uint32_t coll_multi_mask(const Collection *c)
{
    uint32_t m = 0;
    for (int v = 0; v < c->config.n_vectors; v++)
        if (c->config.vectors[v].multivector != COLLECTION_SINGLE) m |= 1u << v;
    return m;
}
static inline int coll_is_multi(const Collection *c, int v)
{
    return c->config.vectors[v].multivector != COLLECTION_SINGLE;
}
/* coll_multi_index resolves name to the index of a multivector, or -1
 * when it names no multivector (another vector, or nothing). */
int coll_multi_index(const Collection *c, const char *name);
/* coll_multi_validate checks the multivector settings of a configuration
 * (comparator, datatype). ERR_INVAL with a message. */
int coll_multi_validate(const CollectionConfig *cfg, char *err, size_t errlen);
void coll_multi_free(Collection *c);
/* coll_multi_load marks the nodes having each multivector from its
 * records (at open; the node table is loaded), checking their sizes. */
int coll_multi_load(Collection *c, StoreTxn *txn);
/* coll_multi_prepare validates an input vector for the multivector (or
 * of a multivector input for any vector) and copies it prepared into
 * arena: *v its vector index, *out n vectors of the vector's size. */
int coll_multi_prepare(Collection *c, const char *what, const CollectionVectorIn *in,
                       Arena *arena, int *v, const float **out, uint32_t *n, char *err,
                       size_t errlen);
/*
 * coll_multi_put writes node's multivectors of the vector indexes in
 * touch, inside the caller's transaction: vec[v] (n[v] vectors) where
 * mask has v too, no record where it has not. As for sparse vectors, a
 * record exists exactly when the live point owning the node has the
 * vector: an upsert or a point deletion touches every multivector,
 * updating or deleting named vectors those.
 */
int coll_multi_put(StoreTxn *txn, Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                   const float *const *vec, const uint32_t *n);
/* coll_multi_apply brings the node sets in line with what coll_multi_put
 * committed (touch, mask as there); c->lock held exclusively. */
void coll_multi_apply(Collection *c, uint32_t node, uint32_t touch, uint32_t mask);
/* coll_multi_output reads node's multivectors selected in want into
 * p->multi. */
int coll_multi_output(Collection *c, uint32_t want, StoreTxn *txn, uint32_t node, Arena *arena,
                      CollectionPoint *p);
/* Searches and recommendations on a multivector (or with a multivector
 * query or example): as coll_sparse_search / coll_sparse_recommend. */
int coll_multi_search(Db *db, Collection *c, const Filter *f, const CollectionSearch *req,
                      size_t limit, Arena *arena, CollectionResult *out, char *err,
                      size_t errlen);
int coll_multi_recommend(Db *db, Collection *c, const Filter *f, const CollectionRecommend *req,
                         size_t limit, Arena *arena, CollectionResult *out, char *err,
                         size_t errlen);
/* Live multivectors and the memory of their node sets, for collection_info. */
void coll_multi_stats(Collection *c, uint64_t *vectors, size_t *memory_bytes);

/* ---- collection_vectors.c ---- */

/*
 * Dense vectors live in STORE_DB_DENSE, those of K consecutive nodes in one
 * block record (layout in collection_vectors.c and docs/storage.md), K =
 * coll_block_slots(dim): as many vectors as fit COLL_BLOCK_TARGET bytes
 * with the headers, at most COLL_BLOCK_MAX_SLOTS (the presence bitmap is
 * a u64).
 */
#define COLL_BLOCK_HEADER 16
#define COLL_BLOCK_TAG 0x01
#define COLL_BLOCK_TARGET ((size_t)128 << 10)
#define COLL_BLOCK_MAX_SLOTS 64
uint32_t coll_block_slots(uint32_t dim);

/*
 * coll_vector_get: THE way to read a stored dense vector (output, rescoring,
 * recommend examples, replay). *out points at vector v of node: into the
 * map (zero-copy; valid until txn ends or, in a write transaction, its next
 * write) or, when the map's bytes are not float-aligned (a small block
 * kept in a leaf page), into scratch, which must hold the vector's size in
 * floats. ERR_NOTFOUND when the node has no such vector stored; ERR_FORMAT
 * (logged) for a malformed block. Any thread, any transaction.
 */
int coll_vector_get(Collection *c, StoreTxn *txn, int v, uint32_t node, float *scratch,
                    const float **out);

/* One block record, parsed: slots s < n_slots with bit s of present hold a
 * vector of node (block * slots + s) at data + s * dim floats. */
typedef struct {
    uint32_t slots;   /* K */
    uint32_t n_slots; /* stored: 1 + the highest slot ever written */
    uint64_t present;
    const uint8_t *data;
} CollBlock;
/* coll_block_parse checks and parses a block record of dim-sized vectors
 * (ERR_FORMAT when malformed); coll_block_vector gives slot's vector as
 * coll_vector_get does (aligned in the map, or copied into scratch). */
int coll_block_parse(uint32_t dim, Slice val, CollBlock *out);
const float *coll_block_vector(const CollBlock *b, uint32_t dim, uint32_t slot, float *scratch);

/* One vector to store: node's vector vec (seq is coll_blocks_put's). */
typedef struct {
    uint32_t node;
    uint32_t seq;
    const float *vec;
} CollVecPut;
/*
 * coll_vectors_put stores vector v of the nodes in puts, inside the
 * caller's write transaction, rewriting each block touched once (puts is
 * reordered; of two puts of one node the later wins). Writer only (it uses
 * c->blocks). coll_blocks_put is the same for a cid without a Collection.
 */
int coll_vectors_put(StoreTxn *txn, Collection *c, int v, CollVecPut *puts, size_t n);
int coll_blocks_put(StoreTxn *txn, uint32_t cid, int v, uint32_t dim, CollVecPut *puts, size_t n,
                    CollBlockBuf *buf);
/*
 * Migrating format 1 (one STORE_DB_VECTORS record per dense vector) to
 * blocks: coll_migrate does every collection of the directory, then writes
 * the format record (a no-op for a directory already at
 * STORE_FORMAT_VERSION); coll_migrate_collection moves one cid's vectors
 * (a collection snapshot of format 1 being recovered). Each transaction
 * moves at most m->chunk vectors; a crash between two leaves both layouts
 * holding disjoint parts, which the next run finishes.
 */
typedef struct {
    size_t chunk;      /* vectors per transaction; 0: about 16 MiB of them */
    size_t stop_after; /* testing: ERR_BUSY after this many transactions (0: never) */
    size_t txns;       /* transactions committed so far */
    size_t moved;      /* vectors moved so far */
} CollMigrate;
int coll_migrate(Db *db, const char *dir, CollMigrate *m);
int coll_migrate_collection(Db *db, uint32_t cid, const CollectionConfig *cfg, CollMigrate *m);

/* ---- collection_record.c ---- */

/* coll_records_check validates records (key and value sizes) before a
 * write; coll_records_put stores them (or deletes, for a NULL value)
 * inside the caller's write transaction. */
int coll_records_check(const CollectionRecord *r, size_t n, char *err, size_t errlen);
int coll_records_put(StoreTxn *txn, const CollectionRecord *r, size_t n);

#endif
