/*
 * sparse.h - an in-memory inverted index of sparse vectors with exact
 * dot-product search (no I/O, no locks).
 *
 * A sparse vector is Qdrant's {indices, values}: a few nonzero weights
 * over a huge space of dimensions (u32 ids, often word hashes). Hybrid
 * search scores it by the dot product over the dimensions a point shares
 * with the query; points sharing none are not results at all (Qdrant's
 * score_vectors returns None for them).
 *
 * Design.
 *   - One SparseIndex per named sparse vector of a collection, keyed by
 *     the collection's dense node ids (as hnsw is).
 *   - Rows: node -> its vector, sorted by dimension (what a removal or a
 *     replacement needs, and what recommendation scoring reads).
 *   - Posting lists: dimension -> (node, value) sorted by node, in an
 *     open-addressing hash table (dimensions are sparse u32s, so an array
 *     indexed by dimension, as Qdrant's RAM index keeps, could take 32 GB).
 *   - Search is exact: the query's posting lists are merged in node order
 *     by a heap keyed by (node, query position), so each node's terms come
 *     out in dimension order and its dot product is summed in the same
 *     order as sparse_dot sums it. Nodes sharing no dimension with the
 *     query are never visited. The accept callback (filters, deleted
 *     points) is asked only for a node whose score would enter the top k,
 *     so a costly filter is evaluated about k log(n / k) times, not once
 *     per overlapping node.
 *   - IDF (Qdrant's modifier "idf", lib/segment/src/data_types/
 *     query_context.rs): only the query's weights are rescaled, each by
 *     ln((N - df + 0.5) / (df + 0.5) + 1) in float, N being the number of
 *     nodes with a non-empty vector and df the length of the dimension's
 *     posting list (Qdrant's indexed vector count and posting-list length;
 *     empty vectors are not indexed there either).
 *
 * Threads: no locks. Any number of readers may run together, or one writer
 * alone; the caller (the collection's reader-writer lock) arranges it.
 * Pointers returned by sparse_row stay valid until the next write.
 */
#ifndef VITRINE_SPARSE_H
#define VITRINE_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Entries of one sparse vector at most (8 bytes each stored). */
#define SPARSE_MAX_LEN (1u << 20)
/* Node ids are 0..SPARSE_MAX_NODES-1 (the collection's, as hnsw's). */
#define SPARSE_MAX_NODES 0x7fffffffu

typedef struct SparseIndex SparseIndex;

/* One search result. */
typedef struct {
    uint32_t node;
    float score;
} SparseHit;

/* An accept callback: nonzero keeps the node as a result. */
typedef int (*SparseAcceptFn)(uint32_t node, void *ctx);

int sparse_create(SparseIndex **out);
void sparse_free(SparseIndex *s);

/*
 * sparse_sort sorts a vector by index in place (values follow their
 * indices) and checks it: ERR_INVAL when an index repeats. A vector
 * already sorted is left untouched (the common case costs one pass).
 */
int sparse_sort(uint32_t *indices, float *values, size_t n);

/*
 * sparse_dot is the dot product of two vectors sorted by index, summed in
 * index order in float (Qdrant's score_vectors). *overlap (may be NULL)
 * is set when they share at least one index, even with zero weights.
 */
float sparse_dot(const uint32_t *ai, const float *av, size_t an, const uint32_t *bi,
                 const float *bv, size_t bn, int *overlap);

/*
 * sparse_set gives node the vector (indices strictly increasing, at most
 * SPARSE_MAX_LEN), replacing the one it had. An empty vector is kept as
 * the node's row but indexes nothing (and counts not in N). ERR_INVAL for
 * unsorted or repeated indices or a node out of range.
 */
int sparse_set(SparseIndex *s, uint32_t node, const uint32_t *indices, const float *values,
               size_t n);
/* sparse_remove drops node's vector; nothing happens when it has none. */
void sparse_remove(SparseIndex *s, uint32_t node);

/* sparse_row gives node's vector (ERR_NOTFOUND when it has none). */
int sparse_row(const SparseIndex *s, uint32_t node, const uint32_t **indices,
               const float **values, size_t *n);
/* Nodes with a vector (empty ones included). */
size_t sparse_size(const SparseIndex *s);
/* N of IDF: nodes with a non-empty vector. */
size_t sparse_indexed(const SparseIndex *s);
/* df of IDF: nodes whose vector has dimension dim. */
size_t sparse_df(const SparseIndex *s, uint32_t dim);
/* sparse_idf multiplies each query weight by its dimension's IDF. */
void sparse_idf(const SparseIndex *s, const uint32_t *indices, float *values, size_t n);
/* 1 + the highest node that has a vector (0 when none). */
uint32_t sparse_node_high(const SparseIndex *s);
size_t sparse_memory_bytes(const SparseIndex *s);

/*
 * sparse_search finds the k nodes with the largest dot product with the
 * query (indices strictly increasing), among the nodes sharing at least
 * one dimension with it that accept (NULL: all) keeps; best first, ties
 * by lower node. out has room for k hits; *n_out receives how many.
 * ERR_INVAL for an unsorted query.
 */
int sparse_search(const SparseIndex *s, const uint32_t *indices, const float *values, size_t n,
                  size_t k, SparseAcceptFn accept, void *ctx, SparseHit *out, size_t *n_out);

#endif
