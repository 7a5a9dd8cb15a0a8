/*
 * hnsw.h - an in-memory HNSW approximate nearest-neighbour index (no I/O).
 *
 * The algorithm is Malkov & Yashunin, "Efficient and robust approximate
 * nearest neighbor search using Hierarchical Navigable Small World graphs"
 * (arXiv:1603.09320): Algorithm 1 (INSERT), 2 (SEARCH-LAYER), 4 (SELECT-
 * NEIGHBORS-HEURISTIC) and 5 (K-NN-SEARCH). A node's level is
 * floor(-ln(U) * mL) with mL = 1 / ln(M); level 0 keeps up to M0 = 2M links,
 * upper levels up to M.
 *
 * Nodes are dense uint32 ids chosen by the caller (the collection maps its
 * point ids onto them and reuses freed ids). The index copies each vector
 * and stores it next to the node's level-0 links, so a search reads one
 * contiguous block per visited node.
 *
 * Metrics: HNSW_METRIC_COSINE expects vectors (and queries) already
 * normalised by the caller and is then a dot product; HNSW_METRIC_DOT is the
 * raw inner product; HNSW_METRIC_EUCLID the L2 distance; HNSW_METRIC_MANHATTAN
 * the L1 distance. Internally smaller is closer; hits carry Qdrant's score:
 * the similarity (dot product) for cosine and dot, the distance for euclid
 * and manhattan.
 *
 * Threads. Every function is thread-safe; what may overlap:
 *   - hnsw_search, hnsw_brute_force, hnsw_node_get, hnsw_node_encode,
 *     hnsw_get_vector, hnsw_contains, hnsw_count, hnsw_entry_get and
 *     hnsw_memory_bytes run concurrently with each other and with
 *     hnsw_insert of new nodes. A search that overlaps an insert may or may
 *     not see the new node; it never sees a half-written one.
 *   - hnsw_insert of distinct new nodes runs concurrently (per-node locks;
 *     a global lock only for growth and for raising the entry point).
 *   - hnsw_delete, hnsw_update, hnsw_insert that revives a deleted node,
 *     hnsw_node_set, hnsw_restore, hnsw_set_bare and hnsw_clear are
 *     exclusive: they wait for running calls to finish and hold the
 *     others off while they run.
 *
 * Persistence: hnsw_node_get / hnsw_node_set (or the byte-blob pair
 * hnsw_node_encode / hnsw_node_decode) plus hnsw_entry_get / hnsw_restore
 * let the store save a graph and load it back without rebuilding. This
 * module never touches a file.
 */
#ifndef VITRINE_HNSW_H
#define VITRINE_HNSW_H

#include <stddef.h>
#include <stdint.h>

/* Tunables, as MIN / DEFAULT / MAX triples. */
#define HNSW_MIN_M 2
#define HNSW_DEFAULT_M 16
#define HNSW_MAX_M 128
#define HNSW_MIN_EF_CONSTRUCTION 4
#define HNSW_DEFAULT_EF_CONSTRUCTION 200
#define HNSW_MAX_EF_CONSTRUCTION 4096
#define HNSW_MIN_EF 1
#define HNSW_DEFAULT_EF 64
#define HNSW_MAX_EF 10000

/* Limits. */
#define HNSW_MAX_DIM 65536
#define HNSW_MAX_LEVEL 31            /* levels are 0..HNSW_MAX_LEVEL */
#define HNSW_MAX_NODES 0x7fffffffu   /* node ids are 0..HNSW_MAX_NODES-1 */
#define HNSW_NO_NODE 0xffffffffu     /* "none" in entry point and link fields */

typedef enum {
    HNSW_METRIC_COSINE = 0, /* vectors pre-normalised by the caller; score = dot */
    HNSW_METRIC_DOT = 1,    /* score = dot product, larger is closer */
    HNSW_METRIC_EUCLID = 2, /* score = L2 distance, smaller is closer */
    HNSW_METRIC_MANHATTAN = 3, /* score = L1 distance, smaller is closer */
} HnswMetric;

typedef struct {
    int m;               /* links per node on levels >= 1; level 0 keeps 2m */
    int ef_construction; /* candidate list size while inserting */
    int ef;              /* default candidate list size for hnsw_search(ef <= 0) */
    uint64_t seed;       /* level draws: level = f(seed, node), so builds repeat */
    /* Scalar int8 quantization (index/quant.h): with quant = 1 the blocks
     * hold int8 codes of the interval [quant_lo, quant_hi] instead of the
     * float32 vectors, the graph is built and searched on them, scores are
     * approximate and hnsw_get_vector returns the decoded approximation;
     * the caller keeps the originals and rescores. 0: float32 (default). */
    int quant;
    float quant_lo, quant_hi;
    /* 1: the index starts bare (hnsw_set_bare); 0: linked (default). */
    int bare;
} HnswParams;

/* One search result: the node and its Qdrant-style score (see above). */
typedef struct {
    uint32_t node;
    float score;
} HnswHit;

/*
 * A search filter: return nonzero to accept node as a result. The search
 * still walks through rejected nodes (they route the graph), as hnswlib and
 * Qdrant do; a caller whose filter accepts few nodes should use
 * hnsw_brute_force instead. Called from the searching thread only.
 */
typedef int (*HnswFilter)(uint32_t node, void *ctx);

typedef struct HnswIndex HnswIndex;

/* hnsw_params_default fills p with the DEFAULT values and seed 0. */
void hnsw_params_default(HnswParams *p);

/*
 * hnsw_create makes an empty index for dim-dimensional vectors. p may be
 * NULL for the defaults. ERR_INVAL when dim, metric or a parameter is out of
 * range. Free with hnsw_free.
 */
int hnsw_create(int dim, HnswMetric metric, const HnswParams *p, HnswIndex **out);
void hnsw_free(HnswIndex *idx);

/* hnsw_reserve preallocates room for node ids 0..capacity-1 (inserts also
 * grow the index on their own; reserving avoids the growth steps). */
int hnsw_reserve(HnswIndex *idx, uint32_t capacity);

/*
 * hnsw_insert adds node with a copy of vec (dim floats) and links it into
 * the graph. ERR_EXISTS when node is already live; a deleted node is revived
 * with the new vector (as hnsw_update). ERR_INVAL for a NaN/Inf component or
 * node >= HNSW_MAX_NODES; ERR_NOMEM when growth fails.
 */
int hnsw_insert(HnswIndex *idx, uint32_t node, const float *vec);

/*
 * hnsw_insert_new is hnsw_insert of a node never inserted before (a
 * deleted one is not revived: ERR_EXISTS), which also reports every other
 * node whose lists it changed: the nodes it linked to, at each level, in
 * touched (cap at least hnsw_links_max(idx, HNSW_MAX_LEVEL)), *n_touched
 * of them. A caller persisting changed nodes while other inserts run uses
 * it: reading the node's links afterwards could miss a node whose link a
 * concurrent insert has already replaced. Thread-safe as hnsw_insert.
 */
int hnsw_insert_new(HnswIndex *idx, uint32_t node, const float *vec, uint32_t *touched,
                    size_t cap, size_t *n_touched);

/*
 * hnsw_search writes up to k nearest live, accepted nodes to out (k
 * entries), best first, and their number to *n_out. ef <= 0 means the
 * index's default; ef below k is raised to k. filter may be NULL.
 * ERR_INVAL for k < 1, max(k, ef) > HNSW_MAX_EF or a non-finite query.
 */
int hnsw_search(HnswIndex *idx, const float *q, int k, int ef, HnswFilter filter, void *ctx,
                HnswHit *out, int *n_out);

/*
 * An allow list: the nodes a filtered search may return, as a bitmap (node
 * n allowed when bit n & 63 of words[n >> 6] is set; nodes at or past
 * n_bits are not), and how many are allowed. A caller that can name a
 * filter's matches from its indexes builds one per search; testing a bit
 * is cheap enough to test nodes the search never scores, which the sparse
 * walk below needs.
 */
typedef struct {
    const uint64_t *words;
    uint32_t n_bits;
    size_t count;
} HnswAllow;

static inline int hnsw_allowed(const HnswAllow *a, uint32_t n)
{
    return n < a->n_bits && (a->words[n >> 6] >> (n & 63) & 1);
}

/*
 * hnsw_search_allowed is hnsw_search whose results are allowed nodes.
 * When they are a small share of the live nodes (count below
 * HNSW_SPARSE_SHARE of them), walking through every node as hnsw_search
 * does would score about 1 / share nodes per result; instead the walk
 * moves over allowed nodes only, and a rejected neighbour lends its own
 * neighbours (the two-hop expansion of ACORN-1, Patel et al., SIGMOD
 * 2024): the graph's links connect the allowed nodes through the rejected
 * ones, so each step scores the allowed nodes within two links and no
 * others. A larger share uses hnsw_search's walk, the bitmap as filter.
 */
#define HNSW_SPARSE_SHARE 0.15
int hnsw_search_allowed(HnswIndex *idx, const float *q, int k, int ef, const HnswAllow *allow,
                        HnswHit *out, int *n_out);

/*
 * A subgraph: links among a subset of an index's nodes, the "payload
 * blocks" Qdrant builds with hnsw_config.payload_m for each value of an
 * indexed payload field that names enough points. A filter that passes 1%
 * of the points leaves the main graph's walk (and the two-hop sparse walk)
 * without links among the matches, so only an exact scan finds them well;
 * a subgraph over the points of that value links them among themselves,
 * and a walk over it costs what an unfiltered walk over that many points
 * does. Qdrant merges these links into the main graph's lists; here they
 * are a graph of their own that borrows the index's vectors (a member is
 * stored as its node id: about (2m + 2) x 4 bytes plus the hash slots),
 * so the index's block layout and files are unchanged and a subgraph is
 * derived data, built from the index alone.
 *
 * Members are added, never removed: a member that stops matching (its
 * payload or vector changed, it was deleted) is excluded by the search's
 * allow list and still routes, as a deleted node does in the index; a
 * member whose vector changed is added again to relink it. Nodes must be
 * present in the index when added, and stay valid ids for the subgraph's
 * life (the index keeps a deleted node's block).
 *
 * Threads: hnsw_search_sub calls run together; hnsw_sub_add holds the
 * subgraph exclusively (searches wait for one add, about an
 * ef_construction search of the subgraph) and the index shared, as
 * hnsw_insert does. An index may be freed only after its subgraphs.
 */
typedef struct HnswSub HnswSub;

/* hnsw_sub_new makes an empty subgraph whose members keep m links (up to
 * 2m with back-links), m in HNSW_MIN_M..HNSW_MAX_M. NULL when out of
 * memory or m is out of range. */
HnswSub *hnsw_sub_new(int m);
void hnsw_sub_free(HnswSub *s);

/* hnsw_sub_add links node (present in idx) into s: a search of s for its
 * ef_construction nearest members, the heuristic's m of them, and links
 * back. A member is relinked the same way. ERR_NOTFOUND when node is not
 * present in idx, ERR_NOMEM. */
int hnsw_sub_add(HnswIndex *idx, HnswSub *s, uint32_t node);

/* hnsw_sub_trim gives back the room s keeps for more members (a built
 * block may never grow again; the next add grows it as before). */
void hnsw_sub_trim(HnswSub *s);

/* hnsw_sub_count: members of s. hnsw_sub_bytes: what s allocated.
 * hnsw_sub_m: its m. */
int hnsw_sub_m(const HnswSub *s);
size_t hnsw_sub_count(HnswSub *s);
size_t hnsw_sub_bytes(HnswSub *s);
int hnsw_sub_contains(HnswSub *s, uint32_t node);

/* hnsw_sub_missing lists the allowed live nodes of idx that are not
 * members of s, or are marked in the bitmap stale (n_stale words, may be
 * NULL: members whose links are out of date), in out (ascending, at most
 * cap) and returns how many there are, counting no further than cap + 1:
 * cap + 1 means "more than cap". Allowed nodes idx does not hold (a point
 * without this vector) are not counted. stale's words are read
 * atomically. */
size_t hnsw_sub_missing(HnswIndex *idx, HnswSub *s, const HnswAllow *allow,
                        const uint64_t *stale, size_t n_stale, uint32_t *out, size_t cap);

/*
 * hnsw_search_sub is hnsw_search_allowed walking s instead of the whole
 * graph: up to k nearest members of s that are live and allowed (allow
 * may be NULL: every member). The walk starts from the members within two
 * links of where the main graph's greedy descent ends, and from s's first
 * member. Members of s are the only candidates: a node allowed but not a
 * member is not found (the caller scans those itself).
 */
int hnsw_search_sub(HnswIndex *idx, HnswSub *s, const float *q, int k, int ef,
                    const HnswAllow *allow, HnswHit *out, int *n_out);

/* hnsw_brute_force is the exact twin of hnsw_search: it scores every live,
 * accepted node. Any k >= 1. */
int hnsw_brute_force(HnswIndex *idx, const float *q, int k, HnswFilter filter, void *ctx,
                     HnswHit *out, int *n_out);

/* hnsw_brute_force_nodes is hnsw_brute_force over the n given nodes only
 * (absent and deleted ones skipped): the exact scan of a filter's matches.
 * On a quantized index it ranks them by their codes (approximate scores),
 * reading a quarter of the bytes; the caller rescores. */
int hnsw_brute_force_nodes(HnswIndex *idx, const float *q, int k, const uint32_t *nodes, size_t n,
                           HnswHit *out, int *n_out);

/*
 * hnsw_exact_below is the planner's cost model for a filtered search
 * over `live` nodes: scoring the m matching nodes exactly costs m vector
 * reads, a filtered graph walk about HNSW_PLAN_VISITS / s of them for a
 * filter passing a share s = m / live (the walk must visit that many
 * nodes to collect ef accepted ones). The exact scan is cheaper while
 * m < sqrt(HNSW_PLAN_VISITS * live); that bound is returned.
 */
#define HNSW_PLAN_VISITS 2000
size_t hnsw_exact_below(size_t live);

/*
 * hnsw_plan chooses how to search, at ef (<= 0: the index's default), the
 * `matches` nodes of idx's `live` that pass a filter: HNSW_PLAN_SCAN
 * scores them exactly (hnsw_brute_force_nodes), HNSW_PLAN_SPARSE walks
 * them alone (hnsw_search_allowed below HNSW_SPARSE_SHARE), HNSW_PLAN_WALK
 * walks the whole graph collecting them (hnsw_search with a filter).
 *
 * Measured with `vitrine bench ann --filter-plan auto,scan,callback` on
 * clustered 512-d unit vectors (M 16, ef_construction 200, recall@10
 * against the exact filtered top 10; AMD EPYC, 1 thread):
 * - The sparse walk keeps the unfiltered recall at the same ef, or a
 *   little above, from a 3% share up; at 1-2% it falls below it (the
 *   allowed nodes two links apart stop connecting: 0.84 against 0.955 at
 *   ef 200 on 200k). At 1M its time is about 0.4 ms + 7.3 us x ef (1.6-2x
 *   the unfiltered walk's): 1585 queries/s at ef 40 on a 5% share.
 * - The whole walk with a filter scores about 1 / share nodes per
 *   accepted one: at 1M and 5%, 296 queries/s at ef 40.
 * - The scan is exact and bound by memory: at 1M, 1000 queries/s for
 *   10,000 float32 matches (20 MB), 176 for 50,000.
 * So a share from HNSW_SPARSE_MIN_SHARE to HNSW_SPARSE_SHARE takes the
 * sparse walk when scanning the matches' vectors would read more than
 * HNSW_SPARSE_BASE_BYTES + ef x HNSW_SPARSE_EF_BYTES (its time in bytes
 * scanned), else the scan; outside that band hnsw_exact_below decides
 * between the scan and the whole walk.
 */
typedef enum { HNSW_PLAN_SCAN, HNSW_PLAN_SPARSE, HNSW_PLAN_WALK } HnswPlan;
#define HNSW_SPARSE_MIN_SHARE 0.03
#define HNSW_SPARSE_BASE_BYTES ((size_t)8 << 20)
#define HNSW_SPARSE_EF_BYTES ((size_t)150 << 10)
HnswPlan hnsw_plan(const HnswIndex *idx, size_t matches, size_t live, int ef);

/*
 * hnsw_delete marks node deleted: searches stop returning it at once, and
 * the nodes it links to drop their link back to it and take replacements
 * from its neighbourhood (the heuristic of Algorithm 4), so recall does not
 * decay under churn. The node's slot keeps routing searches until the id is
 * reused (hnsw_insert or hnsw_update revive it). ERR_NOTFOUND when node is
 * not live.
 */
int hnsw_delete(HnswIndex *idx, uint32_t node);

/*
 * hnsw_update replaces node's vector and re-links it: its old neighbours
 * are repaired as for a delete, then it is inserted again at its level. A
 * deleted node is revived. ERR_NOTFOUND when node was never inserted.
 */
int hnsw_update(HnswIndex *idx, uint32_t node, const float *vec);

/*
 * Bare nodes. An index that is only ever scanned exactly (hnsw_brute_force,
 * hnsw_brute_force_nodes) needs its vectors but no graph: Qdrant's hnsw
 * m = 0, whose bulk uploads skip the graph and build it once at the end.
 * hnsw_set_bare(idx, 1) makes hnsw_insert, hnsw_insert_new and hnsw_update
 * store the node's vector without searching for neighbours or linking:
 * a new node is put at level 0 with no links (the first one becomes the
 * entry point, so a saved bare graph restores as a valid one), an updated
 * or revived node keeps its level and loses its own links, and
 * hnsw_delete marks a node deleted without repairing its neighbours. The
 * links other nodes held before stay valid ids, so a graph stays
 * well-formed for the persistence hooks, but nothing keeps it navigable:
 * hnsw_search of a bare index finds little. Turning bare off (0) makes
 * later inserts link again, from the entry point, but leaves the bare
 * nodes unreachable: to search a graph that has bare nodes, build a new
 * index from its vectors. Exclusive, as hnsw_delete.
 */
void hnsw_set_bare(HnswIndex *idx, int bare);

/* hnsw_clear removes every node and releases their memory. */
void hnsw_clear(HnswIndex *idx);

/* Queries about the index. */
size_t hnsw_count(const HnswIndex *idx);        /* live nodes */
size_t hnsw_memory_bytes(const HnswIndex *idx); /* everything the index allocated */
int hnsw_dim(const HnswIndex *idx);
HnswMetric hnsw_metric(const HnswIndex *idx);
void hnsw_params_get(const HnswIndex *idx, HnswParams *out);
/* hnsw_contains: 1 when node is live, 0 otherwise (absent or deleted). */
int hnsw_contains(const HnswIndex *idx, uint32_t node);
/* hnsw_get_vector copies node's stored vector (live or deleted) to out. */
int hnsw_get_vector(const HnswIndex *idx, uint32_t node, float *out);
/* hnsw_score_between: the Qdrant-style score between two vectors in this
 * index's metric (used by the collection for rescoring and recommend). */
float hnsw_score_between(const HnswIndex *idx, const float *a, const float *b);

/*
 * Persistence hooks (no I/O).
 *
 * hnsw_links_max(idx, level): how many uint32 a node of that level can have
 * in all (M0 + level * M); size the links buffer of hnsw_node_get with it,
 * or with hnsw_links_max(idx, HNSW_MAX_LEVEL) once.
 *
 * hnsw_node_get reports node's top level, whether it is deleted, and its
 * links: counts[l] for l = 0..*level, the links of level 0 first, then level
 * 1, ... packed in links (links_cap entries). ERR_NOTFOUND when the node was
 * never inserted, ERR_TOOLARGE when links_cap is too small.
 *
 * hnsw_node_set restores one node exactly (vector, level, deleted flag,
 * links in the same layout), replacing whatever the slot held. Links may
 * name nodes not set yet; hnsw_restore checks them once all are loaded.
 *
 * hnsw_entry_get reports the entry point and the top level of the graph
 * (ERR_NOTFOUND for an empty index). hnsw_restore sets them after a load
 * and validates the whole graph: every link names a node that was set,
 * counts are within bounds, the entry point has level max_level and no
 * node is higher. ERR_FORMAT (and the index is cleared) otherwise. Use
 * entry = HNSW_NO_NODE for an empty graph.
 */
int hnsw_links_max(const HnswIndex *idx, int level);
int hnsw_node_get(HnswIndex *idx, uint32_t node, int *level, int *deleted, uint32_t *links,
                  size_t links_cap, int *counts);
int hnsw_node_set(HnswIndex *idx, uint32_t node, const float *vec, int level, int deleted,
                  const uint32_t *links, const int *counts);
int hnsw_entry_get(HnswIndex *idx, uint32_t *entry, int *max_level);
int hnsw_restore(HnswIndex *idx, uint32_t entry, int max_level);

/*
 * The same node record as one little-endian byte blob, for a key-value
 * store: u8 level, u8 deleted, u16 zero, then per level 0..level a u32
 * count followed by count u32 links. hnsw_node_encode writes at most
 * hnsw_node_blob_max(idx) bytes (ERR_TOOLARGE if cap is smaller);
 * hnsw_node_decode parses a blob (ERR_FORMAT when malformed) and calls
 * hnsw_node_set with vec.
 */
size_t hnsw_node_blob_max(const HnswIndex *idx);
/*
 * hnsw_node_load is hnsw_node_decode for loading a saved graph on several
 * threads: calls for distinct nodes may run concurrently with each other
 * (no index lock is taken), but with nothing else: the graph must not be
 * in use yet. hnsw_restore then validates and publishes it.
 */
int hnsw_node_load(HnswIndex *idx, uint32_t node, const float *vec, const void *buf, size_t len);
int hnsw_node_encode(HnswIndex *idx, uint32_t node, void *buf, size_t cap, size_t *len);
int hnsw_node_decode(HnswIndex *idx, uint32_t node, const float *vec, const void *buf, size_t len);

#endif
