/*
 * test_store_group.c - write groups (collection_write_group) against a
 * model kept here: for every id, whether the point exists, its payload
 * text and each named vector. After every group the store must equal the
 * model exactly (get, count, vector counts, exact search):
 *
 *   - a failing write in a group (unknown collection, bad vector, missing
 *     point in a payload or vector update, a later operation of the write
 *     failing after an earlier one wrote) leaves no trace, and the other
 *     writes of the group commit;
 *   - operations of one write see each other, and are atomic together;
 *   - update_vectors replaces only the vectors given, delete_vectors
 *     removes only the ones named;
 *   - operation ids increase strictly, one per successful write, across
 *     groups and across a reopen;
 *   - hooks: durable before the change is visible, visible after; none
 *     for a failed write; a released write gets no visible hook;
 *   - after collection_db_flush a process that dies without closing
 *     leaves a directory whose graphs load back digest-identical.
 */
#include <ftw.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "harness.h"
#include "store/collection.h"

#define N_IDS 64
#define DIM_A 4
#define DIM_B 3

static char g_dir[256];
static Db *g_db;

/* The model. */
typedef struct {
    int live;
    char payload[128];
    int has_a, has_b;
    float a[DIM_A], b[DIM_B];
} Model;
static Model g_m[N_IDS];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static JsonValue *parse(Arena *a, const char *text)
{
    JsonValue *v = NULL;
    if (json_parse(a, text, strlen(text), &v, NULL, 0) != 0) abort();
    return v;
}

/* vec_of: a deterministic vector for (id, generation). */
static void vec_of(int id, int gen, float *out, int dim)
{
    for (int d = 0; d < dim; d++) out[d] = (float)((id * 7 + gen * 13 + d * 3) % 19) - 9.0f;
}

/* A point to upsert, with its storage (the op points into it). */
typedef struct {
    CollectionPointIn p;
    CollectionVectorIn v[2];
    float a[DIM_A], b[DIM_B];
    char text[128];
} PointBuf;

static void point_make(PointBuf *pb, Arena *ar, int id, int gen, int with_a, int with_b)
{
    int n = 0;
    vec_of(id, gen, pb->a, DIM_A);
    vec_of(id, gen + 100, pb->b, DIM_B);
    if (with_a) pb->v[n++] = (CollectionVectorIn){ "a", pb->a, DIM_A, NULL, NULL };
    if (with_b) pb->v[n++] = (CollectionVectorIn){ "b", pb->b, DIM_B, NULL, NULL };
    snprintf(pb->text, sizeof pb->text, "{\"id\":%d,\"gen\":%d}", id, gen);
    pb->p = (CollectionPointIn){ point_id_num((uint64_t)id), parse(ar, pb->text), pb->v,
                                 (size_t)n };
}

/* model_upsert records what an upsert of pb does. */
static void model_upsert(const PointBuf *pb, int id)
{
    Model *m = &g_m[id];
    m->live = 1;
    snprintf(m->payload, sizeof m->payload, "%s", pb->text);
    m->has_a = m->has_b = 0;
    for (size_t i = 0; i < pb->p.n_vectors; i++) {
        if (!strcmp(pb->v[i].name, "a")) {
            m->has_a = 1;
            memcpy(m->a, pb->a, sizeof m->a);
        } else {
            m->has_b = 1;
            memcpy(m->b, pb->b, sizeof m->b);
        }
    }
}

/* check compares the whole store with the model; returns the number of
 * differences (printed). */
static int check(Db *db)
{
    int bad = 0;
    Arena a;
    arena_init(&a, 0);
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    uint64_t live = 0, vectors = 0, with_a = 0;
    for (int id = 0; id < N_IDS; id++) {
        const Model *m = &g_m[id];
        live += (uint64_t)m->live;
        vectors += (uint64_t)(m->live && m->has_a) + (uint64_t)(m->live && m->has_b);
        with_a += (uint64_t)(m->live && m->has_a);
        PointId pid = point_id_num((uint64_t)id);
        CollectionResult r;
        if (collection_get(db, "g", &pid, 1, &all, &all, &a, &r)) return bad + 1;
        if ((int)r.n != m->live) {
            printf("  id %d: %s, expected %s\n", id, r.n ? "exists" : "missing",
                   m->live ? "present" : "absent");
            bad++;
            continue;
        }
        if (!m->live) continue;
        const CollectionPoint *p = &r.points[0];
        if (strcmp(p->payload, m->payload)) {
            printf("  id %d: payload %s, expected %s\n", id, p->payload, m->payload);
            bad++;
        }
        int ha = p->vectors && p->vectors[0], hb = p->vectors && p->vectors[1];
        if (ha != m->has_a || hb != m->has_b ||
            (ha && memcmp(p->vectors[0], m->a, sizeof m->a)) ||
            (hb && memcmp(p->vectors[1], m->b, sizeof m->b))) {
            printf("  id %d: vectors differ (a %d/%d, b %d/%d)\n", id, ha, m->has_a, hb,
                   m->has_b);
            bad++;
        }
        if (!ha) continue;
        /* The graph agrees: an exact search for its vector a finds it at 0. */
        CollectionSearch s = { .using = "a", .vector = m->a, .dim = DIM_A, .limit = N_IDS,
                               .exact = 1 };
        char err[128];
        if (collection_search(db, "g", &s, &a, &r, err, sizeof err)) return bad + 1;
        int found = 0;
        for (size_t i = 0; i < r.n; i++) found |= r.points[i].id.num == (uint64_t)id;
        if (!found) {
            printf("  id %d: not found by a search for its vector a\n", id);
            bad++;
        }
    }
    /* And no other point is in graph a: an exact search returns exactly
     * the points that have vector a. */
    float q[DIM_A] = { 0 };
    CollectionSearch all_a = { .using = "a", .vector = q, .dim = DIM_A, .limit = N_IDS, .exact = 1 };
    CollectionResult r;
    char err[128];
    if (collection_search(db, "g", &all_a, &a, &r, err, sizeof err)) return bad + 1;
    if (r.n != with_a) {
        printf("  graph a holds %zu points, expected %llu\n", r.n, (unsigned long long)with_a);
        bad++;
    }
    uint64_t count;
    CollectionInfo info;
    if (collection_count(db, "g", NULL, &count, err, sizeof err) ||
        collection_info(db, "g", &info))
        return bad + 1;
    if (count != live || info.points_count != live || info.vectors_count != vectors) {
        printf("  count %llu / points %llu / vectors %llu, expected %llu / %llu / %llu\n",
               (unsigned long long)count, (unsigned long long)info.points_count,
               (unsigned long long)info.vectors_count, (unsigned long long)live,
               (unsigned long long)live, (unsigned long long)vectors);
        bad++;
    }
    arena_free(&a);
    return bad;
}

static int create(Db *db)
{
    CollectionConfig cfg = { .n_vectors = 2, .m = 8, .ef_construct = 32 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "a");
    cfg.vectors[0].size = DIM_A;
    cfg.vectors[0].distance = COLLECTION_EUCLID;
    snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, "b");
    cfg.vectors[1].size = DIM_B;
    cfg.vectors[1].distance = COLLECTION_DOT;
    char err[256];
    return collection_create(db, "g", &cfg, err, sizeof err);
}

/* ---- hooks that record what they see ---- */

typedef struct {
    int events[64]; /* +i: durable of write i, -(i+1)... encoded below */
    int n;
    CollectionWrite *base[16];
    size_t n_base;
    int release_mask;  /* durable returns 1 for these write indexes */
    int seen_durable;  /* points_count seen in durable hooks */
    int seen_visible;
} HookLog;

static int write_index(HookLog *h, CollectionWrite *w)
{
    for (size_t i = 0; i < h->n_base; i++)
        if (h->base[i] == w) return (int)i;
    return -1;
}

static uint64_t points_now(void)
{
    CollectionInfo info;
    return collection_info(g_db, "g", &info) ? 0 : info.points_count;
}

static int on_durable(CollectionWrite *w, void *ctx)
{
    HookLog *h = ctx;
    int i = write_index(h, w);
    h->events[h->n++] = 100 + i;
    h->seen_durable = (int)points_now();
    return h->release_mask >> i & 1;
}

static void on_visible(CollectionWrite *w, void *ctx)
{
    HookLog *h = ctx;
    h->events[h->n++] = 200 + write_index(h, w);
    h->seen_visible = (int)points_now();
}

TEST(test_group_isolates_failures)
{
    Arena a;
    arena_init(&a, 0);
    PointBuf pb[16];
    /* Write 0: upsert ids 0..3 (both vectors). */
    for (int i = 0; i < 4; i++) point_make(&pb[i], &a, i, 1, 1, 1);
    CollectionPointIn p0[4];
    for (int i = 0; i < 4; i++) p0[i] = pb[i].p;
    CollectionOp op0 = { .kind = COLLECTION_OP_UPSERT, .points = p0, .n_points = 4 };
    /* Write 1: unknown collection. */
    CollectionOp op1 = op0;
    /* Write 2: upsert id 10 fine, then a bad point (dimension): all of it fails. */
    point_make(&pb[4], &a, 10, 1, 1, 0);
    point_make(&pb[5], &a, 11, 1, 1, 0);
    pb[5].v[0].dim = DIM_A - 1;
    CollectionPointIn p2[2] = { pb[4].p, pb[5].p };
    CollectionOp op2 = { .kind = COLLECTION_OP_UPSERT, .points = p2, .n_points = 2 };
    /* Write 3: upsert id 12 (a new node), then set_payload on missing id 40:
     * fails inside the transaction, after the upsert wrote. */
    point_make(&pb[6], &a, 12, 1, 1, 1);
    PointId missing = point_id_num(40);
    CollectionOp op3[2] = {
        { .kind = COLLECTION_OP_UPSERT, .points = &pb[6].p, .n_points = 1 },
        { .kind = COLLECTION_OP_SET_PAYLOAD, .ids = &missing, .n_ids = 1,
          .payload = parse(&a, "{\"x\":1}") },
    };
    /* Write 4: upsert id 20 then set its payload in the same write. */
    point_make(&pb[7], &a, 20, 1, 1, 1);
    PointId id20 = point_id_num(20);
    CollectionOp op4[2] = {
        { .kind = COLLECTION_OP_UPSERT, .points = &pb[7].p, .n_points = 1 },
        { .kind = COLLECTION_OP_SET_PAYLOAD, .ids = &id20, .n_ids = 1,
          .payload = parse(&a, "{\"tag\":\"x\"}") },
    };
    /* Write 5: delete_vectors with an unknown name. */
    const char *bogus[] = { "c" };
    CollectionOp op5 = { .kind = COLLECTION_OP_DELETE_VECTORS, .ids = &id20, .n_ids = 1,
                         .vector_names = bogus, .n_vector_names = 1 };
    /* Write 6: update_vectors of a missing point. */
    point_make(&pb[8], &a, 41, 1, 1, 0);
    CollectionOp op6 = { .kind = COLLECTION_OP_UPDATE_VECTORS, .points = &pb[8].p, .n_points = 1 };

    CollectionWrite w[7] = {
        { .collection = "g", .ops = &op0, .n_ops = 1 },
        { .collection = "nosuch", .ops = &op1, .n_ops = 1 },
        { .collection = "g", .ops = &op2, .n_ops = 1 },
        { .collection = "g", .ops = op3, .n_ops = 2 },
        { .collection = "g", .ops = op4, .n_ops = 2 },
        { .collection = "g", .ops = &op5, .n_ops = 1 },
        { .collection = "g", .ops = &op6, .n_ops = 1 },
    };
    CollectionWrite *wp[7];
    HookLog h = { .n_base = 7 };
    for (int i = 0; i < 7; i++) wp[i] = h.base[i] = &w[i];
    CollectionWriteHooks hooks = { on_durable, on_visible, &h };
    uint64_t before = points_now();
    ASSERT_OK(collection_write_group(g_db, wp, 7, &hooks));

    ASSERT_EQ_INT(w[0].status, 0);
    ASSERT_EQ_INT(w[0].n_affected, 4);
    ASSERT_EQ_INT(w[1].status, ERR_NOTFOUND);
    ASSERT_STR_EQ(w[1].err, "Collection `nosuch` doesn't exist!");
    ASSERT_EQ_INT(w[2].status, ERR_INVAL);
    ASSERT_TRUE(strstr(w[2].err, "dimension") != NULL);
    ASSERT_EQ_INT(w[3].status, ERR_NOTFOUND);
    ASSERT_STR_EQ(w[3].err, "No point with id 40 found");
    ASSERT_EQ_INT(w[4].status, 0);
    ASSERT_EQ_INT(w[4].n_affected, 2);
    ASSERT_EQ_INT(w[5].status, ERR_INVAL);
    ASSERT_STR_EQ(w[5].err, "Not existing vector name error: c");
    ASSERT_EQ_INT(w[6].status, ERR_NOTFOUND);
    ASSERT_EQ_INT(w[4].operation_id, w[0].operation_id + 1);

    /* Hooks: durable 0, 4 before any change is visible; then visible 0, 4. */
    ASSERT_EQ_INT(h.n, 4);
    ASSERT_EQ_INT(h.events[0], 100);
    ASSERT_EQ_INT(h.events[1], 104);
    ASSERT_EQ_INT(h.events[2], 200);
    ASSERT_EQ_INT(h.events[3], 204);
    ASSERT_EQ_U64(h.seen_durable, before);
    ASSERT_EQ_U64(h.seen_visible, before + 5);

    for (int i = 0; i < 4; i++) model_upsert(&pb[i], i);
    model_upsert(&pb[7], 20);
    snprintf(g_m[20].payload, sizeof g_m[20].payload, "{\"id\":20,\"gen\":1,\"tag\":\"x\"}");
    ASSERT_EQ_INT(check(g_db), 0);

    /* The failed write 3 took no node for id 12 for good: the next insert
     * succeeds and everything still checks (node reuse is consistent). */
    CollectionWrite again = { .collection = "g", .ops = op3, .n_ops = 1 };
    CollectionWrite *ap = &again;
    ASSERT_OK(collection_write_group(g_db, &ap, 1, NULL));
    ASSERT_EQ_INT(again.status, 0);
    ASSERT_EQ_INT(again.operation_id, w[4].operation_id + 1);
    model_upsert(&pb[6], 12);
    ASSERT_EQ_INT(check(g_db), 0);
    arena_free(&a);
}

TEST(test_release_skips_visible)
{
    Arena a;
    arena_init(&a, 0);
    PointBuf pb[3];
    CollectionOp op[3];
    CollectionWrite w[3];
    CollectionWrite *wp[3];
    HookLog h = { .n_base = 3, .release_mask = 1 << 1 };
    for (int i = 0; i < 3; i++) {
        point_make(&pb[i], &a, 30 + i, 2, 1, i != 2);
        op[i] = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = &pb[i].p, .n_points = 1 };
        w[i] = (CollectionWrite){ .collection = "g", .ops = &op[i], .n_ops = 1 };
        wp[i] = h.base[i] = &w[i];
    }
    CollectionWriteHooks hooks = { on_durable, on_visible, &h };
    ASSERT_OK(collection_write_group(g_db, wp, 3, &hooks));
    /* Durable for all three, visible for 0 and 2 only. */
    ASSERT_EQ_INT(h.n, 5);
    ASSERT_EQ_INT(h.events[0], 100);
    ASSERT_EQ_INT(h.events[1], 101);
    ASSERT_EQ_INT(h.events[2], 102);
    ASSERT_EQ_INT(h.events[3], 200);
    ASSERT_EQ_INT(h.events[4], 202);
    for (int i = 0; i < 3; i++) model_upsert(&pb[i], 30 + i);
    ASSERT_EQ_INT(check(g_db), 0);
    arena_free(&a);
}

TEST(test_update_and_delete_vectors)
{
    Arena a;
    arena_init(&a, 0);
    /* id 2 gets a new b only; id 3 a new a only; a kept / b kept. */
    PointBuf ub[2];
    point_make(&ub[0], &a, 2, 7, 0, 1);
    point_make(&ub[1], &a, 3, 8, 1, 0);
    CollectionPointIn up[2] = { ub[0].p, ub[1].p };
    CollectionOp op = { .kind = COLLECTION_OP_UPDATE_VECTORS, .points = up, .n_points = 2 };
    CollectionWrite w = { .collection = "g", .ops = &op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, 0);
    ASSERT_EQ_INT(w.n_affected, 2);
    memcpy(g_m[2].b, ub[0].b, sizeof g_m[2].b);
    memcpy(g_m[3].a, ub[1].a, sizeof g_m[3].a);
    ASSERT_EQ_INT(check(g_db), 0);
    /* The old vector a of id 3 is no longer found; the new one is. */
    float old_a[DIM_A];
    vec_of(3, 1, old_a, DIM_A);
    CollectionSearch s = { .using = "a", .vector = old_a, .dim = DIM_A, .limit = 1, .exact = 1 };
    CollectionResult r;
    char err[128];
    ASSERT_OK(collection_search(g_db, "g", &s, &a, &r, err, sizeof err));
    ASSERT_TRUE(r.n == 1 && !(r.points[0].id.num == 3 && r.points[0].score == 0.0f));

    /* update_vectors may give a vector a point did not have (id 32 had no b). */
    PointBuf nb;
    point_make(&nb, &a, 32, 9, 0, 1);
    op = (CollectionOp){ .kind = COLLECTION_OP_UPDATE_VECTORS, .points = &nb.p, .n_points = 1 };
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, 0);
    g_m[32].has_b = 1;
    memcpy(g_m[32].b, nb.b, sizeof nb.b);
    ASSERT_EQ_INT(check(g_db), 0);

    /* delete_vectors by ids (b of 0 and 1) and by filter (a of gen 2 points). */
    PointId ids[2] = { point_id_num(0), point_id_num(1) };
    const char *nb_names[] = { "b" }, *na_names[] = { "a" };
    CollectionOp dv[2] = {
        { .kind = COLLECTION_OP_DELETE_VECTORS, .ids = ids, .n_ids = 2, .vector_names = nb_names,
          .n_vector_names = 1 },
        { .kind = COLLECTION_OP_DELETE_VECTORS,
          .filter = parse(&a, "{\"must\":[{\"key\":\"gen\",\"match\":{\"value\":2}}]}"),
          .vector_names = na_names, .n_vector_names = 1 },
    };
    w = (CollectionWrite){ .collection = "g", .ops = dv, .n_ops = 2 };
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, 0);
    ASSERT_EQ_INT(w.n_affected, 5);
    g_m[0].has_b = g_m[1].has_b = 0;
    for (int i = 30; i < 33; i++) g_m[i].has_a = 0;
    ASSERT_EQ_INT(check(g_db), 0);
    /* Missing id: nothing changes. */
    PointId both[2] = { point_id_num(2), point_id_num(50) };
    dv[0].ids = both;
    w.n_ops = 1;
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, ERR_NOTFOUND);
    ASSERT_EQ_INT(check(g_db), 0);
    /* The changes survive a reopen, graphs included. */
    uint64_t da, db_, da2, db2;
    ASSERT_OK(collection_graph_digest(g_db, "g", "a", &da));
    ASSERT_OK(collection_graph_digest(g_db, "g", "b", &db_));
    collection_db_close(g_db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    ASSERT_EQ_INT(check(g_db), 0);
    ASSERT_OK(collection_graph_digest(g_db, "g", "a", &da2));
    ASSERT_OK(collection_graph_digest(g_db, "g", "b", &db2));
    ASSERT_EQ_U64(da2, da);
    ASSERT_EQ_U64(db2, db_);
    arena_free(&a);
}

TEST(test_ops_of_one_write_see_each_other)
{
    Arena a;
    arena_init(&a, 0);
    /* Upsert 40..43, delete those with gen 5 by filter except via a later
     * upsert, then clear payload of 43: in one write. */
    PointBuf pb[4];
    CollectionPointIn p[4];
    for (int i = 0; i < 4; i++) {
        point_make(&pb[i], &a, 40 + i, i < 2 ? 5 : 6, 1, 1);
        p[i] = pb[i].p;
    }
    PointId id43 = point_id_num(43);
    CollectionOp ops[3] = {
        { .kind = COLLECTION_OP_UPSERT, .points = p, .n_points = 4 },
        { .kind = COLLECTION_OP_DELETE,
          .filter = parse(&a, "{\"must\":[{\"key\":\"gen\",\"match\":{\"value\":5}}]}") },
        { .kind = COLLECTION_OP_CLEAR_PAYLOAD, .ids = &id43, .n_ids = 1 },
    };
    CollectionWrite w = { .collection = "g", .ops = ops, .n_ops = 3 };
    CollectionWrite *wp = &w;
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_INT(w.status, 0);
    ASSERT_EQ_INT(w.n_affected, 4 + 2 + 1);
    model_upsert(&pb[2], 42);
    model_upsert(&pb[3], 43);
    snprintf(g_m[43].payload, sizeof g_m[43].payload, "{}");
    ASSERT_EQ_INT(check(g_db), 0);
    arena_free(&a);
}

TEST(test_operation_id_across_reopen)
{
    Arena a;
    arena_init(&a, 0);
    PointBuf pb;
    point_make(&pb, &a, 50, 1, 1, 1);
    CollectionOp op = { .kind = COLLECTION_OP_UPSERT, .points = &pb.p, .n_points = 1 };
    CollectionWrite w = { .collection = "g", .ops = &op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    uint64_t first = w.operation_id;
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_U64(w.operation_id, first + 1);
    collection_db_close(g_db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    ASSERT_OK(collection_write_group(g_db, &wp, 1, NULL));
    ASSERT_EQ_U64(w.operation_id, first + 2);
    model_upsert(&pb, 50);
    ASSERT_EQ_INT(check(g_db), 0);
    arena_free(&a);
}

/* A child that writes groups, flushes, reports its digests and dies
 * without closing: the parent's open must load the same graphs. */
TEST(test_flush_then_die)
{
    collection_db_close(g_db);
    g_db = NULL;
    int fds[2];
    ASSERT_OK(pipe(fds));
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        Db *db;
        if (collection_db_open(g_dir, NULL, &db)) _exit(2);
        Arena a;
        arena_init(&a, 0);
        PointBuf pb[8];
        CollectionOp op[8];
        CollectionWrite w[8];
        CollectionWrite *wp[8];
        for (int i = 0; i < 8; i++) {
            point_make(&pb[i], &a, 4 + i, 3, 1, 1);
            op[i] = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = &pb[i].p,
                                    .n_points = 1 };
            w[i] = (CollectionWrite){ .collection = "g", .ops = &op[i], .n_ops = 1 };
            wp[i] = &w[i];
        }
        if (collection_write_group(db, wp, 8, NULL)) _exit(3);
        if (collection_db_flush(db)) _exit(4);
        uint64_t d[2];
        if (collection_graph_digest(db, "g", "a", &d[0]) ||
            collection_graph_digest(db, "g", "b", &d[1]))
            _exit(5);
        if (write(fds[1], d, sizeof d) != (ssize_t)sizeof d) _exit(6);
        _exit(0); /* no close */
    }
    close(fds[1]);
    uint64_t d[2] = { 0, 0 };
    ASSERT_EQ_INT(read(fds[0], d, sizeof d), sizeof d);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    Arena a;
    arena_init(&a, 0);
    for (int i = 0; i < 8; i++) {
        PointBuf pb;
        point_make(&pb, &a, 4 + i, 3, 1, 1);
        model_upsert(&pb, 4 + i);
    }
    arena_free(&a);
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    uint64_t da, db_;
    ASSERT_OK(collection_graph_digest(g_db, "g", "a", &da));
    ASSERT_OK(collection_graph_digest(g_db, "g", "b", &db_));
    ASSERT_EQ_U64(da, d[0]);
    ASSERT_EQ_U64(db_, d[1]);
    ASSERT_EQ_INT(check(g_db), 0);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_group_XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (collection_db_open(g_dir, NULL, &g_db) || create(g_db)) return 1;
    RUN(test_group_isolates_failures);
    RUN(test_release_skips_visible);
    RUN(test_update_and_delete_vectors);
    RUN(test_ops_of_one_write_see_each_other);
    RUN(test_operation_id_across_reopen);
    RUN(test_flush_then_die);
    collection_db_close(g_db);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report(__FILE__);
}
