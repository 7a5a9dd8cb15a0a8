/*
 * test_store_crash.c - kill -9 durability, with group commit.
 *
 * Each round forks a child that opens the data directory and writes in a
 * loop, in groups of 1..4 writes (collection_write_group, one commit per
 * group): batches of new points, re-upserts of earlier points with a new
 * version, deletes, and now and then a doomed write (an upsert of a new
 * point followed by a payload update of a missing one, which fails after
 * writing). Only from the durable hook, after the group's commit, does the
 * child report a write (id, version or "deleted") on a pipe, as the server
 * acknowledges a wait=false client there. After a group the child calls
 * collection_db_flush only one time in three, so kills land both between
 * a commit and the deferred save of its graph records and after it. The parent kills the child with
 * SIGKILL at a random moment, reads every report, opens the directory
 * (which must succeed with no repair step) and checks that every
 * acknowledged write is there and complete: the point exists with at
 * least the acknowledged version, its payload and vector are exactly what
 * that version wrote, and a search for its vector finds it; acknowledged
 * deletes stay deleted. A write that committed but was not yet reported
 * may or may not be there; both are fine. A doomed write's point is never
 * there. The rounds run twice: on a graph, and on a vector searched
 * exactly only (exact_only, Qdrant's hnsw m = 0), whose graph must also
 * still have no links after every recovery (the replay inserts bare).
 * A third set PATCHes m at the start of each child, so that kills land
 * in a background graph rebuild (collection_optimize.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/collection.h"
#include "base/err.h"
#include "base/util.h"
#include "harness.h"
#include "base/log.h"

#define ROUNDS 20
#define DIM 16
/* Batches are small (1..8 points), but one in six has 64..95 points, so
 * its new points go into the graph on several threads
 * (COLL_PARALLEL_INSERT_MIN) and kills land in that path too. */
#define BATCH_SMALL 8
#define BATCH_MAX 96
#define IDS_PER_ROUND 100000
#define MAX_IDS (ROUNDS * 4096)
#define DELETED UINT32_MAX
/* Reported before a delete: after a kill the point may be gone or not. */
#define DELETING (UINT32_MAX - 1)
/* Reported before a doomed write: the id must never exist. */
#define DOOMED (UINT32_MAX - 2)
/* Ids of doomed writes, per round: IDS_PER_ROUND / 2 + a counter. */
#define DOOMED_BASE (IDS_PER_ROUND / 2)
#define MAX_DOOMED 4096
#define GROUP_MAX 4

/* One acknowledgement as written to the pipe (12 bytes, < PIPE_BUF). */
typedef struct {
    uint64_t id;
    uint32_t version;
} Ack;

static char g_dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* The vector a version of a point has: a function of (id, version). */
static void vector_of(uint64_t id, uint32_t version, float *out)
{
    for (int d = 0; d < DIM; d++)
        out[d] = (float)(hash_fmix64(id * 131 + version * 7 + (uint64_t)d) % 20001) / 10000.0f - 1.0f;
}

static JsonValue *payload_of(Arena *a, uint64_t id, uint32_t version)
{
    char text[256];
    snprintf(text, sizeof text, "{\"id\":%llu,\"v\":%u,\"pad\":\"%0*d\"}", (unsigned long long)id,
             version, (int)(id % 50) + 1, 7);
    JsonValue *v;
    if (json_parse(a, text, strlen(text), &v, NULL, 0)) abort();
    return v;
}

static void write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) _exit(4);
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* One write of a child's group, with what its durable hook reports. */
typedef struct {
    CollectionWrite w; /* first: the hook gets &w */
    CollectionOp ops[2];
    CollectionPointIn p[BATCH_MAX];
    CollectionVectorIn v[BATCH_MAX];
    float vec[BATCH_MAX][DIM];
    PointId del, missing;
    Ack acks[BATCH_MAX];
    int n_acks;
    int doomed;
} ChildWrite;

static int child_fd;

static int child_durable(CollectionWrite *w, void *ctx)
{
    (void)ctx;
    ChildWrite *cw = (ChildWrite *)w;
    if (cw->doomed) _exit(7); /* a doomed write must fail */
    write_all(child_fd, cw->acks, (size_t)cw->n_acks * sizeof *cw->acks);
    return 0;
}

/* child_main writes until killed; it never returns. */
static void child_main(int round, int fd, uint64_t seed, int rebuilding)
{
    Db *db;
    DbOptions o = { .rebuild_async_min = 1 };
    if (collection_db_open(g_dir, rebuilding ? &o : NULL, &db)) _exit(2);
    child_fd = fd;
    if (rebuilding) {
        /* A new m each round: the graph is rebuilt in the background
         * (taking over the one a kill interrupted) while the writes go on. */
        CollectionUpdate u = { .m = 9 + (round & 1) };
        char err[128];
        if (collection_update(db, "crash", &u, err, sizeof err)) _exit(3);
    }
    static uint32_t version[4096];
    static uint8_t deleted[4096];
    static ChildWrite cws[GROUP_MAX];
    int next = 0, doomed = 0;
    uint64_t rng = seed;
    CollectionWriteHooks hooks = { child_durable, NULL, NULL };
    for (;;) {
        Arena a;
        arena_init(&a, 0);
        rng = hash_fmix64(rng + 1);
        int n_writes = 1 + (int)(rng % GROUP_MAX);
        CollectionWrite *wp[GROUP_MAX];
        for (int wi = 0; wi < n_writes; wi++) {
            ChildWrite *cw = &cws[wi];
            memset(cw, 0, sizeof *cw);
            wp[wi] = &cw->w;
            cw->w = (CollectionWrite){ .collection = "crash", .ops = cw->ops, .n_ops = 1 };
            rng = hash_fmix64(rng + 1);
            if (rng % 10 == 0 && doomed < MAX_DOOMED) {
                /* Doomed: an upsert that succeeds, then a payload update
                 * of a missing point that fails the whole write. */
                uint64_t id = (uint64_t)round * IDS_PER_ROUND + DOOMED_BASE + (uint64_t)doomed++;
                Ack intent = { id, DOOMED };
                write_all(fd, &intent, sizeof intent);
                vector_of(id, 1, cw->vec[0]);
                cw->v[0] = (CollectionVectorIn){ NULL, cw->vec[0], DIM, NULL, NULL };
                cw->p[0] = (CollectionPointIn){ point_id_num(id), payload_of(&a, id, 1), cw->v, 1 };
                cw->missing = point_id_num(id + 1);
                cw->ops[0] = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = cw->p,
                                             .n_points = 1 };
                cw->ops[1] = (CollectionOp){ .kind = COLLECTION_OP_SET_PAYLOAD,
                                             .ids = &cw->missing, .n_ids = 1,
                                             .payload = payload_of(&a, id, 2) };
                cw->w.n_ops = 2;
                cw->doomed = 1;
                continue;
            }
            if (rng % 7 == 0 && next > 0) {
                /* A delete of an earlier point (or of nothing, if it is gone). */
                int k = (int)(hash_fmix64(rng) % (uint64_t)next);
                cw->del = point_id_num((uint64_t)round * IDS_PER_ROUND + (uint64_t)k);
                cw->ops[0] = (CollectionOp){ .kind = COLLECTION_OP_DELETE, .ids = &cw->del,
                                             .n_ids = 1 };
                if (!deleted[k]) {
                    Ack intent = { cw->del.num, DELETING };
                    write_all(fd, &intent, sizeof intent);
                    deleted[k] = 1;
                    cw->acks[cw->n_acks++] = (Ack){ cw->del.num, DELETED };
                }
                continue;
            }
            int n = rng % 6 == 0 ? 64 + (int)(hash_fmix64(rng) % 32) : 1 + (int)(rng % BATCH_SMALL);
            for (int j = 0; j < n; j++) {
                int k;
                if (rng % 4 == 0 && next > 0 &&
                    !deleted[k = (int)(hash_fmix64(rng + (uint64_t)j) % (uint64_t)next)]) {
                    version[k]++; /* an update of an earlier point */
                } else {
                    /* Out of ids (bare inserts of an exact_only vector
                     * get here within a round): wait for the kill, as
                     * the parent expects, instead of exiting. */
                    if (next == 4096)
                        for (;;) pause();
                    k = next++;
                    version[k] = 1;
                }
                uint64_t id = (uint64_t)round * IDS_PER_ROUND + (uint64_t)k;
                vector_of(id, version[k], cw->vec[j]);
                cw->v[j] = (CollectionVectorIn){ NULL, cw->vec[j], DIM, NULL, NULL };
                cw->p[j] = (CollectionPointIn){ point_id_num(id), payload_of(&a, id, version[k]),
                                                &cw->v[j], 1 };
                cw->acks[cw->n_acks++] = (Ack){ id, version[k] };
            }
            cw->ops[0] = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = cw->p,
                                         .n_points = (size_t)n };
        }
        if (collection_write_group(db, wp, (size_t)n_writes, &hooks)) _exit(3);
        for (int wi = 0; wi < n_writes; wi++)
            if ((cws[wi].w.status != 0) != cws[wi].doomed) _exit(3);
        if (hash_fmix64(rng) % 3 == 0 && collection_db_flush(db)) _exit(3);
        arena_free(&a);
    }
}

/* What the parent knows was acknowledged, indexed by round * 4096 + k
 * (0: never acknowledged). */
static uint32_t g_version[MAX_IDS];
static size_t g_n;
static uint64_t g_doomed[ROUNDS * MAX_DOOMED];
static size_t g_n_doomed;

static uint64_t slot_id(size_t slot)
{
    return (uint64_t)(slot / 4096) * IDS_PER_ROUND + slot % 4096;
}

static void record(const Ack *a)
{
    if (a->version == DOOMED) {
        if (g_n_doomed < sizeof g_doomed / sizeof *g_doomed) g_doomed[g_n_doomed++] = a->id;
        return;
    }
    size_t slot = (size_t)(a->id / IDS_PER_ROUND) * 4096 + (size_t)(a->id % IDS_PER_ROUND);
    if (slot >= MAX_IDS) return;
    if (!g_version[slot]) g_n++;
    /* A later acknowledgement supersedes (the pipe keeps order). */
    g_version[slot] = a->version;
}

/* verify checks every acknowledged write; returns the number of problems. */
/* verify checks every acknowledged write. With misses non-NULL, a
 * point a search for its own vector does not find is counted there
 * instead of as damage (a walk of a graph this churned misses a few: see
 * kill9_rounds). */
static int verify(Db *db, int round, int *checked, int *misses)
{
    int bad = 0;
    Arena a;
    arena_init(&a, 0);
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    *checked = 0;
    for (size_t i = 0; i < g_n_doomed; i++) {
        PointId id = point_id_num(g_doomed[i]);
        CollectionResult r;
        if (collection_get(db, "crash", &id, 1, &all, &all, &a, &r)) return bad + 1;
        if (r.n) {
            printf("  id %llu: a doomed write left its point\n", (unsigned long long)g_doomed[i]);
            bad++;
        }
    }
    for (size_t i = 0; i < MAX_IDS; i++) {
        if (!g_version[i]) continue;
        uint64_t gid = slot_id(i);
        PointId id = point_id_num(gid);
        CollectionResult r;
        if (collection_get(db, "crash", &id, 1, &all, &all, &a, &r)) return bad + 1;
        if (g_version[i] == DELETED) {
            if (r.n != 0) {
                printf("  id %llu: acknowledged delete, still there\n", (unsigned long long)gid);
                bad++;
            }
            continue;
        }
        if (g_version[i] == DELETING) continue; /* either outcome is right */
        (*checked)++;
        if (r.n != 1) {
            printf("  id %llu: acknowledged (v%u) but missing\n", (unsigned long long)gid,
                   g_version[i]);
            bad++;
            continue;
        }
        JsonValue *pl;
        uint64_t pid, pv;
        if (!r.points[0].payload ||
            json_parse(&a, r.points[0].payload, r.points[0].payload_len, &pl, NULL, 0) ||
            json_as_uint64(json_get(pl, "id"), &pid) || json_as_uint64(json_get(pl, "v"), &pv) ||
            pid != gid || pv < g_version[i]) {
            printf("  id %llu: payload %s does not hold version >= %u\n",
                   (unsigned long long)gid, r.points[0].payload ? r.points[0].payload : "(none)",
                   g_version[i]);
            bad++;
            continue;
        }
        float want[DIM];
        vector_of(gid, (uint32_t)pv, want);
        if (!r.points[0].vectors || !r.points[0].vectors[0] ||
            memcmp(r.points[0].vectors[0], want, sizeof want) != 0) {
            printf("  id %llu: vector is not version %llu's\n", (unsigned long long)gid,
                   (unsigned long long)pv);
            bad++;
            continue;
        }
        /* Searchable: this round's points all, older ones sampled. */
        if (gid / IDS_PER_ROUND != (uint64_t)round && i % 10) continue;
        CollectionSearch s = { 0 };
        s.vector = want;
        s.dim = DIM;
        s.limit = 5;
        s.ef = 128;
        char err[128];
        if (collection_search(db, "crash", &s, &a, &r, err, sizeof err)) return bad + 1;
        int found = 0;
        for (size_t j = 0; j < r.n; j++) found |= r.points[j].id.num == gid;
        if (!found && misses) {
            (*misses)++;
        } else if (!found) {
            printf("  id %llu: not found by a search for its own vector\n", (unsigned long long)gid);
            bad++;
        }
    }
    arena_free(&a);
    return bad;
}

/* wait_optimized polls until no rebuild is owed (at most 60 s). */
static int wait_optimized(Db *db)
{
    for (int i = 0; i < 6000; i++) {
        CollectionInfo info;
        if (collection_info(db, "crash", &info)) return -1;
        if (!info.optimizing) return info.optimizer_error[0] ? -1 : 0;
        usleep(10000);
    }
    return -1;
}

/* kill9_rounds runs `rounds` kill -9 rounds on a new collection "crash"
 * (its vector exact_only or not). With rebuilding, each child first
 * PATCHes m, so the kill lands in a background rebuild (its build, its
 * catch-up or its swap) or after it; at the end, once the rebuild the
 * last open resumed is done, every point is checked again, searched on
 * the rebuilt graph. */
static void kill9_rounds(int rounds, int exact_only, int rebuilding)
{
    Db *db;
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    collection_delete(db, "crash");
    memset(g_version, 0, sizeof g_version);
    g_n = g_n_doomed = 0;
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 8, .ef_construct = 64 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_EUCLID;
    cfg.vectors[0].exact_only = exact_only;
    char err[256];
    ASSERT_OK(collection_create(db, "crash", &cfg, err, sizeof err));
    collection_db_close(db);

    uint64_t rng = 0x5eed;
    size_t total_acks = 0;
    double t0 = now_seconds();
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        ASSERT_OK(pipe(fds));
        rng = hash_fmix64(rng);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(round, fds[1], rng, rebuilding);
        }
        close(fds[1]);
        /* Let it run 40..240 ms (it opens the store first), reading acks
         * meanwhile so the pipe never fills. */
        double until = now_seconds() + 0.04 + (double)(rng % 200) / 1000.0;
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        static Ack buf[8192];
        size_t have = 0; /* bytes in buf */
        while (now_seconds() < until) {
            ssize_t r = read(fds[0], (char *)buf + have, sizeof buf - have);
            if (r > 0) have += (size_t)r;
            else usleep(1000);
            for (size_t i = 0; i + 1 <= have / sizeof(Ack); i++) record(&buf[i]);
            total_acks += have / sizeof(Ack);
            size_t rest = have % sizeof(Ack);
            memmove(buf, (char *)buf + have - rest, rest);
            have = rest;
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        fcntl(fds[0], F_SETFL, 0);
        for (;;) {
            ssize_t r = read(fds[0], (char *)buf + have, sizeof buf - have);
            if (r <= 0) break;
            have += (size_t)r;
        }
        close(fds[0]);
        for (size_t i = 0; i < have / sizeof(Ack); i++) record(&buf[i]);
        total_acks += have / sizeof(Ack);
        /* A partial record cannot happen: acks are written whole (< PIPE_BUF). */
        ASSERT_EQ_INT(have % sizeof(Ack), 0);

        /* Opens with no repair step, and everything acknowledged is there. */
        ASSERT_OK(collection_db_open(g_dir, NULL, &db));
        int checked;
        int bad = verify(db, round, &checked, NULL);
        uint64_t count;
        ASSERT_OK(collection_count(db, "crash", NULL, &count, err, sizeof err));
        CollectionGraphLinks gl;
        ASSERT_OK(collection_graph_links(db, "crash", NULL, &gl));
        collection_db_close(db);
        if (bad) HARNESS_FAIL("round %d: %d acknowledged writes lost or damaged", round, bad);
        ASSERT_GE((double)count, (double)checked);
        ASSERT_GE((double)gl.nodes, (double)count);
        if (exact_only) ASSERT_EQ_U64(gl.linked, 0);
        else if (!rebuilding) ASSERT_TRUE(count < 2 || gl.linked > 0);
    }
    if (rebuilding) {
        /* The searches walk the rebuilt graph now (full_scan_bytes 1). At
         * m 9-10 after this many updates and deletes a walk misses a few
         * points in any graph, rebuilt or not (about 0.2% here, the same
         * without rebuilds), so up to 1% may be missed; a rebuild that
         * lost writes would miss whole rounds' points. */
        DbOptions walk = { .full_scan_bytes = 1 };
        ASSERT_OK(collection_db_open(g_dir, &walk, &db));
        ASSERT_OK(wait_optimized(db));
        int checked, misses = 0;
        int bad = verify(db, rounds - 1, &checked, &misses);
        CollectionGraphLinks gl;
        ASSERT_OK(collection_graph_links(db, "crash", NULL, &gl));
        uint64_t count;
        ASSERT_OK(collection_count(db, "crash", NULL, &count, err, sizeof err));
        CollectionInfo info;
        ASSERT_OK(collection_info(db, "crash", &info));
        collection_db_close(db);
        if (bad) HARNESS_FAIL("after the rebuild: %d acknowledged writes lost or damaged", bad);
        printf("  rebuilt at m %d: %llu points, %llu graph nodes linked; %d of %d points not "
               "found by a graph search for their own vector\n", info.config.m,
               (unsigned long long)count, (unsigned long long)gl.linked, misses, checked);
        ASSERT_TRUE(misses <= checked / 100);
        ASSERT_EQ_INT(info.config.m, 9 + ((rounds - 1) & 1));
        ASSERT_GE((double)gl.linked, (double)count);
    }
    printf("  %d rounds%s%s, %zu acknowledged writes, %zu distinct points checked, %zu doomed "
           "writes absent, %.1f s\n",
           rounds, exact_only ? " (exact_only: bare graph)" : "",
           rebuilding ? " (each one rebuilding the graph)" : "", total_acks, g_n, g_n_doomed,
           now_seconds() - t0);
    ASSERT_TRUE(total_acks > 0);
    ASSERT_TRUE(g_n_doomed > 0);
}

TEST(test_kill9_rounds)
{
    kill9_rounds(ROUNDS, 0, 0);
}

/* The same with the vector searched exactly only: its nodes are stored
 * bare, by the child's writes and by the replay at each reopen. */
TEST(test_kill9_rounds_exact_only)
{
    kill9_rounds(ROUNDS / 4, 1, 0);
}

/* With a background graph rebuild running in every round. */
TEST(test_kill9_rounds_rebuilding)
{
    kill9_rounds(ROUNDS / 2, 0, 1);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_crash_XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_kill9_rounds);
    RUN(test_kill9_rounds_exact_only);
    RUN(test_kill9_rounds_rebuilding);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report(__FILE__);
}
