/*
 * qdrant_matrix.c - Qdrant's distance matrix:
 * POST /collections/{c}/points/search/matrix/pairs and .../offsets.
 *
 * As Qdrant does (lib/collection/src/collection/distance_matrix.rs): take
 * `sample` random points (default 10, at least 2) among those matching
 * the filter that have the vector `using`, order them by id, and for each
 * find its `limit` (default 3) nearest neighbours among the sampled points
 * other than itself. Pairs lists (a, b, score) row by row; offsets gives
 * the same as coordinates into `ids`. Fewer than two sampled points give
 * an empty matrix.
 *
 * Each row is a recommendation by the sample point's own vector (the
 * average of one example is the example) with a has_id filter on the
 * sample and the point itself excluded: the score is the collection's
 * similarity to that vector, dense, sparse or multivector alike, which is
 * what Qdrant's nearest query on the vector gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/qdrant_internal.h"
#include "base/util.h"

/* Qdrant's defaults (CollectionSearchMatrixRequest). */
#define QDRANT_MATRIX_DEFAULT_SAMPLE 10
#define QDRANT_MATRIX_DEFAULT_LIMIT 3
/* The largest sample: the matrix costs sample searches over the sample,
 * so this bounds a request's work to about 10^8 similarity computations,
 * and its response to sample x limit pairs. */
#define QDRANT_MATRIX_MAX_SAMPLE 10000

typedef struct {
    PointId *ids;  /* the sample, by id */
    size_t n;
    CollectionResult *rows; /* [n]: the neighbours of ids[i], best first */
} Matrix;

static int cmp_id(const void *a, const void *b) { return point_id_cmp(a, b); }

/* vector_exists: using names a dense or sparse vector of the collection
 * ("" the unnamed one). */
static int vector_exists(ApiJob *j, const char *using)
{
    CollectionInfo info;
    int rc = collection_info(j->api->db, j->collection, &info);
    if (rc) return api_fail_collection(j, rc, NULL);
    if (!*using && info.config.unnamed) return 0;
    for (int v = 0; v < info.config.n_vectors; v++)
        if (*using && !strcmp(info.config.vectors[v].name, using)) return 0;
    for (int s = 0; s < info.config.n_sparse; s++)
        if (!strcmp(info.config.sparse[s].name, using)) return 0;
    return api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s", using);
}

/* parse_filter parses JSON text built here into the request arena. */
static const JsonValue *parse_filter(ApiJob *j, Buf *b)
{
    JsonValue *v = NULL;
    char err[256];
    if (json_parse(api_arena(j), b->data, b->len, &v, err, sizeof err)) {
        api_fail(j, QERR_BAD_REQUEST, "%s", err);
        v = NULL;
    }
    buf_free(b);
    return v;
}

/* take_sample picks up to `sample` random points that match filter and
 * have the vector, ordered by id. */
static int take_sample(ApiJob *j, const char *using, const JsonValue *filter, size_t sample,
                       Matrix *m)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "must");
    jw_array_begin(&w);
    jw_object_begin(&w);
    jw_key(&w, "has_vector");
    jw_string(&w, using);
    jw_object_end(&w);
    if (filter) jw_value(&w, filter);
    jw_array_end(&w);
    jw_object_end(&w);
    const JsonValue *f = parse_filter(j, &b);
    if (!f) return -1;
    CollectionScroll s;
    memset(&s, 0, sizeof s);
    s.limit = SIZE_MAX;
    s.filter = f;
    CollectionResult r;
    char err[512] = "";
    int rc = collection_scroll(j->api->db, j->collection, &s, api_arena(j), &r, err, sizeof err);
    if (rc) return api_fail_collection(j, rc, err);
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(uintptr_t)m ^ (uint64_t)time(NULL);
    x |= 1;
    size_t take = sample < r.n ? sample : r.n;
    m->ids = arena_alloc(api_arena(j), (take ? take : 1) * sizeof *m->ids);
    /* A partial Fisher-Yates shuffle with xorshift64*: the first `take`
     * entries become a uniform sample. */
    for (size_t i = 0; i < take; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        size_t k = i + (size_t)((x * 0x2545F4914F6CDD1DULL) % (r.n - i));
        CollectionPoint t = r.points[i];
        r.points[i] = r.points[k];
        r.points[k] = t;
        m->ids[i] = r.points[i].id;
    }
    m->n = take;
    if (take > 1) qsort(m->ids, take, sizeof *m->ids, cmp_id);
    return 0;
}

static int matrix_compute(ApiJob *j, Matrix *m)
{
    memset(m, 0, sizeof *m);
    if (api_body_object(j, 1)) return -1;
    static const JsonValue empty = { .type = JSON_OBJECT };
    const JsonValue *body = j->body ? j->body : &empty;
    size_t sample = QDRANT_MATRIX_DEFAULT_SAMPLE, limit = QDRANT_MATRIX_DEFAULT_LIMIT;
    const char *using = NULL;
    const JsonValue *filter;
    if (api_get_size(j, body, "sample", 2, &sample) || api_get_size(j, body, "limit", 1, &limit) ||
        api_get_str(j, body, "using", &using) || api_get_object(j, body, "filter", &filter) ||
        api_check_filter(j, filter))
        return -1;
    if (sample > QDRANT_MATRIX_MAX_SAMPLE)
        return api_fail(j, QERR_BAD_REQUEST, "sample: at most %d points (got %zu)",
                        QDRANT_MATRIX_MAX_SAMPLE, sample);
    if (!using) using = "";
    if (vector_exists(j, using) || take_sample(j, using, filter, sample, m)) return -1;
    if (m->n < 2) {
        m->n = 0;
        return 0;
    }
    /* The same has_id filter for every row: the sample itself. */
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "must");
    jw_array_begin(&w);
    jw_object_begin(&w);
    jw_key(&w, "has_id");
    jw_array_begin(&w);
    for (size_t i = 0; i < m->n; i++) point_id_write(&w, &m->ids[i]);
    jw_array_end(&w);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    const JsonValue *in_sample = parse_filter(j, &b);
    if (!in_sample) return -1;
    m->rows = arena_alloc(api_arena(j), m->n * sizeof *m->rows);
    for (size_t i = 0; i < m->n; i++) {
        CollectionRecommend r;
        memset(&r, 0, sizeof r);
        r.positive = &m->ids[i];
        r.n_positive = 1;
        r.strategy = COLLECTION_RECO_AVERAGE_VECTOR;
        r.search.using = using;
        r.search.limit = limit;
        r.search.exact = 1; /* the candidates are the sample: a scan is exact and cheap */
        r.search.filter = in_sample;
        char err[512] = "";
        int rc = collection_recommend(j->api->db, j->collection, &r, api_arena(j), &m->rows[i], err,
                                      sizeof err);
        if (rc) return api_fail_collection(j, rc, err);
    }
    return 0;
}

static void matrix_pairs(ApiJob *j)
{
    Matrix m;
    if (matrix_compute(j, &m)) return;
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "pairs");
    jw_array_begin(w);
    for (size_t i = 0; i < m.n; i++) {
        for (size_t k = 0; k < m.rows[i].n; k++) {
            jw_object_begin(w);
            jw_key(w, "a");
            point_id_write(w, &m.ids[i]);
            jw_key(w, "b");
            point_id_write(w, &m.rows[i].points[k].id);
            jw_key(w, "score");
            jw_float(w, m.rows[i].points[k].score);
            jw_object_end(w);
        }
    }
    jw_array_end(w);
    jw_object_end(w);
}

/* column finds id in the sorted sample. */
static size_t column(const Matrix *m, const PointId *id)
{
    const PointId *p = bsearch(id, m->ids, m->n, sizeof *m->ids, cmp_id);
    return p ? (size_t)(p - m->ids) : 0;
}

static void matrix_offsets(ApiJob *j)
{
    Matrix m;
    if (matrix_compute(j, &m)) return;
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "offsets_row");
    jw_array_begin(w);
    for (size_t i = 0; i < m.n; i++)
        for (size_t k = 0; k < m.rows[i].n; k++) jw_uint(w, i);
    jw_array_end(w);
    jw_key(w, "offsets_col");
    jw_array_begin(w);
    for (size_t i = 0; i < m.n; i++)
        for (size_t k = 0; k < m.rows[i].n; k++) jw_uint(w, column(&m, &m.rows[i].points[k].id));
    jw_array_end(w);
    jw_key(w, "scores");
    jw_array_begin(w);
    for (size_t i = 0; i < m.n; i++)
        for (size_t k = 0; k < m.rows[i].n; k++) jw_float(w, m.rows[i].points[k].score);
    jw_array_end(w);
    jw_key(w, "ids");
    jw_array_begin(w);
    for (size_t i = 0; i < m.n; i++) point_id_write(w, &m.ids[i]);
    jw_array_end(w);
    jw_object_end(w);
}

const ApiRoute qdrant_matrix_routes[] = {
    { "POST", "/collections/{collection_name}/points/search/matrix/pairs", API_READ, NULL,
      matrix_pairs },
    { "POST", "/collections/{collection_name}/points/search/matrix/offsets", API_READ, NULL,
      matrix_offsets },
    { NULL, NULL, 0, NULL, NULL },
};
