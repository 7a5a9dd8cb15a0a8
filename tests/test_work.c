/*
 * test_work.c - worker queues: early completion and the idle callback.
 *
 *   - items completed early by the batch function are delivered on the
 *     loop while the batch is still running (the batch waits until the
 *     loop has seen them), the others after it; every item exactly once,
 *     and an item freed by its done callback is never touched again
 *     (ASan runs this file too);
 *   - work_queue_complete refuses an item that is not in the running batch
 *     or was completed already;
 *   - the idle callback runs after a batch exactly when nothing waits.
 */
#include "server/work.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "base/err.h"
#include "harness.h"

#include <uv.h>

typedef struct {
    WorkItem item;
    int id;
} Item;

static WorkQueue *g_q;
static uv_sem_t g_seen_early; /* posted by the loop once the early items arrived */
static int g_delivered[16], g_n_delivered, g_count[16];
static atomic_int g_complete_errors;
static int g_early_before_end; /* early items delivered while their batch ran */
static atomic_int g_batch_running;

static void early_run(void *ctx, WorkItem **items, size_t n)
{
    (void)ctx;
    atomic_store(&g_batch_running, 1);
    Item *odd[8];
    size_t n_odd = 0;
    for (size_t i = 0; i < n; i++)
        if (((Item *)items[i])->id % 2) odd[n_odd++] = (Item *)items[i];
    /* Hand the odd ones back now; the checks below use only the saved ids. */
    for (size_t i = 0; i < n_odd; i++) {
        WorkItem *it = &odd[i]->item;
        if (work_queue_complete(g_q, it) != 0) atomic_fetch_add(&g_complete_errors, 1);
    }
    if (n_odd) uv_sem_wait(&g_seen_early); /* the loop has delivered them */
    /* Completing one again, or an item from elsewhere, is refused. Only
     * pointers are compared: the odd items may be freed by now. */
    if (n_odd && work_queue_complete(g_q, &odd[0]->item) != ERR_INVAL)
        atomic_fetch_add(&g_complete_errors, 1);
    Item stranger;
    if (work_queue_complete(g_q, &stranger.item) != ERR_INVAL)
        atomic_fetch_add(&g_complete_errors, 1);
    atomic_store(&g_batch_running, 0);
}

static void early_done(void *ctx, WorkItem *it)
{
    (void)ctx;
    Item *item = (Item *)it;
    g_delivered[g_n_delivered++] = item->id;
    g_count[item->id]++;
    if (item->id % 2 && atomic_load(&g_batch_running)) g_early_before_end++;
    if (item->id % 2 && g_count[1] + g_count[3] + g_count[5] == 3) uv_sem_post(&g_seen_early);
    free(item);
}

TEST(test_early_completion)
{
    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    ASSERT_OK(uv_sem_init(&g_seen_early, 0));
    WorkQueueConfig qc = {
        .name = "early", .capacity = 16, .max_batch = 8, .batch_wait_us = 200000,
        .run = early_run, .done = early_done,
    };
    ASSERT_OK(work_queue_start(&loop, &qc, &g_q));
    /* Six items; the batch wait collects them into one batch. */
    for (int i = 0; i < 6; i++) {
        Item *it = calloc(1, sizeof *it);
        it->id = i;
        ASSERT_OK(work_queue_push(g_q, &it->item));
    }
    while (g_n_delivered < 6) uv_run(&loop, UV_RUN_ONCE);
    work_queue_stop(g_q);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    uv_sem_destroy(&g_seen_early);
    ASSERT_EQ_INT(atomic_load(&g_complete_errors), 0);
    for (int i = 0; i < 6; i++) ASSERT_EQ_INT(g_count[i], 1);
    /* 1, 3, 5 arrived while the batch still ran, in completion order; 0, 2,
     * 4 after it, in FIFO order. */
    ASSERT_EQ_INT(g_early_before_end, 3);
    int want[6] = { 1, 3, 5, 0, 2, 4 };
    for (int i = 0; i < 6; i++) ASSERT_EQ_INT(g_delivered[i], want[i]);
}

/* ---- idle ---- */

static char g_events[64];
static atomic_int g_n_events;
static uv_sem_t g_gate;
static int g_first_batch = 1;

static void idle_run(void *ctx, WorkItem **items, size_t n)
{
    (void)ctx;
    (void)items;
    if (g_first_batch) {
        g_first_batch = 0;
        uv_sem_wait(&g_gate); /* the test pushes more meanwhile */
    }
    g_events[atomic_fetch_add(&g_n_events, 1)] = (char)('0' + n);
}

static void idle_cb(void *ctx)
{
    (void)ctx;
    g_events[atomic_fetch_add(&g_n_events, 1)] = 'i';
}

static int g_idle_delivered;
static void idle_done(void *ctx, WorkItem *it)
{
    (void)ctx;
    (void)it;
    g_idle_delivered++;
}

TEST(test_idle_callback)
{
    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    ASSERT_OK(uv_sem_init(&g_gate, 0));
    WorkQueueConfig qc = {
        .name = "idle", .capacity = 16, .max_batch = 1,
        .run = idle_run, .done = idle_done, .idle = idle_cb,
    };
    WorkQueue *q;
    ASSERT_OK(work_queue_start(&loop, &qc, &q));
    Item items[4];
    ASSERT_OK(work_queue_push(q, &items[0].item));
    /* While the first batch is held, two more arrive: no idle between. */
    ASSERT_OK(work_queue_push(q, &items[1].item));
    ASSERT_OK(work_queue_push(q, &items[2].item));
    uv_sem_post(&g_gate);
    while (g_idle_delivered < 3) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_OK(work_queue_push(q, &items[3].item));
    while (g_idle_delivered < 4) uv_run(&loop, UV_RUN_ONCE);
    work_queue_stop(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    uv_sem_destroy(&g_gate);
    g_events[atomic_load(&g_n_events)] = '\0';
    ASSERT_STR_EQ(g_events, "111i1i");
}

int main(void)
{
    RUN(test_early_completion);
    RUN(test_idle_callback);
    return harness_report(__FILE__);
}
