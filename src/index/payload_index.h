/*
 * payload_index.h - payload indexes: one field (a key path) of every
 * point's payload, held in memory by node, so that filters on that field
 * are answered without parsing payload JSON.
 *
 * Design. An index is a column of the payload plus an ordered set of its
 * values:
 *   - the forward record of each node: exactly what filter.c needs to
 *     evaluate any condition on the field without the payload (see
 *     PayloadValues): the values of the index's type the key path reaches
 *     (array elements one level down, as filters see them), how many
 *     reached elements are of another type (for match except), and the
 *     "shape" of every reached value (its values_count, whether it is
 *     null or holds null) for values_count / is_empty / is_null;
 *   - a set of (key, node) entries sorted by key then node: keys are term
 *     ids (keyword, uuid, bool, text tokens) or order-preserving encodings
 *     of numbers and datetimes. A term's nodes or a range's nodes are one
 *     contiguous run, and order_by walks the set in either direction.
 * The set is a sorted base array with tombstones plus a small sorted
 * delta (an LSM tree of two levels): an insert costs a memmove of at most
 * the delta (about 2*sqrt(n) entries), a delete a binary search; the
 * delta is merged into the base when full, and the base compacted when a
 * quarter of it is dead. A plain sorted array was rejected: a bulk upsert
 * with random values would memmove half the index per point; a B-tree
 * costs more code and memory for the same reads.
 *
 * Values kept per type (payload semantics of filter.c):
 *   keyword, uuid  strings, exactly (uuid counts a point as indexed only
 *                  when a string parses as a UUID; matching stays exact
 *                  string equality, as without an index)
 *   integer, float every JSON number: its double (ranges compare doubles)
 *                  and, for integers that fit int64, the exact integer
 *                  (match compares those); integer counts and orders
 *                  integers only, float every number
 *   bool           true / false
 *   datetime       strings that parse as datetimes (filter.h's formats),
 *                  in microseconds since the epoch
 *   text           per string, its set of tokens (payload_index_tokenize)
 *   geo            {"lon", "lat"} objects within range (points only: geo
 *                  conditions are not served by filter.c yet)
 *
 * Threads: an index is changed by one writer (payload_index_set) while no
 * reader uses it (the engine holds its collection lock exclusively), and
 * read by any number of threads otherwise. Nothing here does I/O.
 */
#ifndef VITRINE_PAYLOAD_INDEX_H
#define VITRINE_PAYLOAD_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"
#include "index/filter.h"

typedef enum {
    PAYLOAD_INDEX_KEYWORD = 0,
    PAYLOAD_INDEX_INTEGER = 1,
    PAYLOAD_INDEX_FLOAT = 2,
    PAYLOAD_INDEX_BOOL = 3,
    PAYLOAD_INDEX_DATETIME = 4,
    PAYLOAD_INDEX_UUID = 5,
    PAYLOAD_INDEX_TEXT = 6,
    PAYLOAD_INDEX_GEO = 7,
    PAYLOAD_INDEX_TYPE_COUNT
} PayloadIndexType;

/* Text tokenizers (Qdrant's TokenizerType names). */
enum {
    PAYLOAD_TOKENIZER_WORD = 0,       /* runs of letters and digits */
    PAYLOAD_TOKENIZER_WHITESPACE = 1, /* runs of non-whitespace */
    /* words, each also as its prefixes of min_token_len (1) to
     * max_token_len characters (documents; a query's words are taken whole,
     * cut to max_token_len: Qdrant's prefix tokenizer) */
    PAYLOAD_TOKENIZER_PREFIX = 2,
};

/* Longest token kept, in bytes; longer tokens are cut at a character
 * boundary (the same cut for documents and queries). */
#define PAYLOAD_TOKEN_MAX 128

/* Most custom stopwords a text index takes, and their longest. */
#define PAYLOAD_MAX_STOPWORDS 4096
#define PAYLOAD_MAX_STOPWORD_BYTES PAYLOAD_TOKEN_MAX

/* A text index's tokenizer and token processing (Qdrant's
 * TextIndexParams). All zero but tokenizer and lowercase: the tokens as
 * split. */
typedef struct {
    int tokenizer;          /* PAYLOAD_TOKENIZER_* */
    int lowercase;          /* 1: lowercase tokens (Qdrant's default) */
    uint32_t min_token_len; /* in characters; 0: no minimum */
    uint32_t max_token_len; /* in characters; 0: no maximum (longer tokens are dropped) */
    int ascii_folding;      /* 1: fold tokens to ASCII (textproc.h) */
    int stem_lang;          /* 0: no stemming; else a stem.h language + 1 */
    uint64_t stop_langs;    /* stopword lists: bit i is text_tables.h's language i */
    /* Custom stopwords (NUL-terminated UTF-8). Given to payload_index_new,
     * borrowed (the index copies them); in payload_index_text_params, the
     * index's copies. */
    const char *const *stop_custom;
    uint32_t n_stop_custom;
} PayloadTextParams;

/* payload_text_params_default: word, lowercase, nothing else. */
PayloadTextParams payload_text_params_default(void);

/* "No such term": a string the index has never seen. */
#define PAYLOAD_NO_TERM UINT32_MAX

/* A shape: one value the key path reached. Low bits: its values_count
 * (0 for null and [], the length of an array, 1 otherwise). */
#define PAYLOAD_SHAPE_NULL (1u << 31)     /* the value is null */
#define PAYLOAD_SHAPE_HAS_NULL (1u << 30) /* an array holding a null */
#define PAYLOAD_SHAPE_COUNT_MASK ((1u << 30) - 1)

typedef struct {
    double d;       /* the number (JsonValue.u.num) */
    int64_t i;      /* the exact integer when is_int */
    uint32_t is_int; /* 1: an integer that fits int64 (JSON_NUM_INT) */
} PayloadNum;

typedef struct {
    double lon, lat;
} PayloadGeo;

/* What the index holds for one node; pointers stay valid while the index
 * is not changed. Only the array of the index's type is set. */
typedef struct {
    uint32_t n_shapes;
    const uint32_t *shapes; /* PAYLOAD_SHAPE_* per reached value */
    uint32_t n_other;       /* reached elements not of the type, null excluded */
    uint32_t n_vals;        /* elements of the index's type */
    const uint32_t *terms;  /* keyword, uuid: term ids; bool: 0 false, 1 true */
    const PayloadNum *nums; /* integer, float */
    const int64_t *times;   /* datetime: microseconds since the epoch */
    const uint32_t *tokens; /* text: n_vals strings, each a count then that
                               many sorted, distinct token ids */
    const PayloadGeo *geos; /* geo */
} PayloadValues;

/* A range of keys: numbers for integer / float, microseconds for
 * datetime. Unset bounds are open. */
typedef struct {
    uint8_t has_lo, lo_incl, has_hi, hi_incl;
    double lo, hi;     /* integer, float */
    int64_t lo_t, hi_t; /* datetime */
} PayloadRange;

/* A growable list of nodes (payload_index_*_nodes append to it). */
typedef struct {
    uint32_t *nodes;
    size_t n, cap;
} PayloadNodeList;

typedef struct PayloadIndex PayloadIndex;

/*
 * payload_index_new makes an empty index of field (a Qdrant key path:
 * `a.b`, `a[].b`, ...) and type; text is the tokenizer of a text index
 * (NULL: the defaults, word and lowercase). ERR_INVAL for a malformed
 * path or type. Free with payload_index_free.
 */
int payload_index_new(const char *field, PayloadIndexType type, const PayloadTextParams *text,
                      PayloadIndex **out);
void payload_index_free(PayloadIndex *ix);

const char *payload_index_field(const PayloadIndex *ix);
const FilterPath *payload_index_path(const PayloadIndex *ix);
PayloadIndexType payload_index_type(const PayloadIndex *ix);
const PayloadTextParams *payload_index_text_params(const PayloadIndex *ix);
/* payload_index_type_name: "keyword", "integer", ... (Qdrant's names). */
const char *payload_index_type_name(PayloadIndexType t);
/* payload_index_type_parse: the type named s, or -1. */
int payload_index_type_parse(const char *s);

/*
 * payload_index_set replaces what the index holds for node by what
 * payload (an object, or NULL for none: a deleted point) has at the
 * field. Only the values that changed touch the ordered set, so
 * rewriting an unchanged payload is cheap.
 */
void payload_index_set(PayloadIndex *ix, uint32_t node, const JsonValue *payload);
/* Bulk loading: between begin and end, sets append to the ordered set
 * unsorted and end sorts it once (for building from every point). */
void payload_index_bulk_begin(PayloadIndex *ix);
void payload_index_bulk_end(PayloadIndex *ix);

/* payload_index_points: nodes with at least one value of the type (Qdrant's
 * payload_schema points; see the type notes above). */
uint64_t payload_index_points(const PayloadIndex *ix);
/* payload_index_memory: bytes held, roughly. */
size_t payload_index_memory(const PayloadIndex *ix);

/* payload_index_values fills out for node (all zero when it has nothing). */
void payload_index_values(const PayloadIndex *ix, uint32_t node, PayloadValues *out);

/* ---- terms (keyword, uuid, text tokens) ---- */

/* payload_index_term: the id of string s (for text: of token s), or
 * PAYLOAD_NO_TERM when no node ever had it. */
uint32_t payload_index_term(const PayloadIndex *ix, const char *s, size_t len);
/* payload_index_term_count: nodes having the term (bool: 0 / 1), exactly. */
uint64_t payload_index_term_count(const PayloadIndex *ix, uint32_t term);
/* payload_index_term_total: how many term ids the dictionary has handed
 * out (ids are 0..total-1; bool: 2). Ids are never reused, so a term no
 * node holds any more keeps its id with a count of 0. */
uint32_t payload_index_term_total(const PayloadIndex *ix);
/* payload_index_term_string: the string of term id (NUL-terminated, *len
 * its length), valid while the index is not changed; NULL for bool, text
 * token ids out of range, or an id never handed out. */
const char *payload_index_term_string(const PayloadIndex *ix, uint32_t term, size_t *len);
/* payload_index_term_nodes appends the nodes having the term, ascending. */
void payload_index_term_nodes(const PayloadIndex *ix, uint32_t term, PayloadNodeList *out);

/*
 * payload_index_tokenize splits text as the index's tokenizer does and
 * calls fn with each token, processed as Qdrant's TokensProcessor does
 * (folded to ASCII when ascii_folding, lowercased when lowercase, without
 * the stopwords, stemmed when a stemmer is set, within the length
 * limits), in order, repeats included; fn returning nonzero stops. Word tokens are maximal runs of letters and digits: ASCII
 * letters and digits, and every non-ASCII character except the Unicode
 * punctuation, symbol and space blocks (Latin-1 punctuation, U+2000-2BFF,
 * U+3000-303F, U+FE30-FE4F, fullwidth ASCII punctuation, emoji), which
 * approximates Rust's char::is_alphanumeric that Qdrant uses. Lowercasing
 * covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals.
 */
typedef int (*PayloadTokenFn)(void *ctx, const char *tok, size_t len);
void payload_index_tokenize(const PayloadIndex *ix, const char *s, size_t len, PayloadTokenFn fn,
                            void *ctx);
/* payload_index_tokenize_query splits a query's text: as a document's,
 * except that the prefix tokenizer gives each word once, whole (cut to
 * max_token_len characters; shorter than min_token_len: none), and keeps
 * stopwords (a prefix being typed may be one). Thread-safe: each call
 * borrows its own stemmer (stem.h). */
void payload_index_tokenize_query(const PayloadIndex *ix, const char *s, size_t len,
                                  PayloadTokenFn fn, void *ctx);

/* ---- ranges (integer, float, datetime) ---- */

/* payload_index_range_count: an upper bound of the nodes with a value in
 * r (exact but for values removed since the last compaction). */
uint64_t payload_index_range_count(const PayloadIndex *ix, const PayloadRange *r);
/* payload_index_range_nodes appends the nodes with a value in r (a node
 * once per value; sort and dedupe when that matters). */
void payload_index_range_nodes(const PayloadIndex *ix, const PayloadRange *r, PayloadNodeList *out);

/*
 * payload_index_order calls fn(ctx, value, node) for every value in r in
 * ascending (desc 0) or descending order, a node once per distinct value
 * (integer: integer values only); fn returning nonzero stops. Values are
 * numbers (integer, float) or microseconds (datetime). Entries of equal
 * value come in node order (ascending, or descending when desc).
 */
typedef int (*PayloadOrderFn)(void *ctx, double value, uint32_t node);
void payload_index_order(const PayloadIndex *ix, int desc, const PayloadRange *r, PayloadOrderFn fn,
                         void *ctx);

/* payload_node_list helpers. */
void payload_node_list_push(PayloadNodeList *l, uint32_t node);
/* payload_node_list_sort_unique sorts the list and drops repeats. */
void payload_node_list_sort_unique(PayloadNodeList *l);
void payload_node_list_free(PayloadNodeList *l);

#endif
