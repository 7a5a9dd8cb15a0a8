/*
 * work.c - threadpool jobs and worker queues, declared in work.h.
 *
 * Threadpool jobs wrap uv_queue_work; the only state is a process-wide
 * counter that bounds how many are in flight, so a burst of searches gets
 * 503 instead of an unbounded libuv queue.
 *
 * A WorkQueue is a mutex, two condition-free lists and one thread:
 *   pending: pushed, not yet taken by the thread (the thread sleeps on a
 *            condition variable while it is empty);
 *   done:    processed, waiting for the loop (the thread appends, then
 *            uv_async_send; the async callback swaps the whole list out
 *            under the lock and delivers outside it, because sends coalesce
 *            and the done callbacks may push new items).
 * `depth` counts items from push to delivery, which is what capacity bounds:
 * a slow loop cannot make completed results pile up unboundedly either.
 * Batching: the thread takes the first item, then, when max_batch > 1 and a
 * wait is configured, waits until the batch is full or the wait elapsed.
 * Early completion: work_queue_complete appends an item of the running
 * batch to `done` at once and flags its slot in `early`; after the batch
 * the thread appends only the unflagged items, and never looks at a
 * flagged one again (the loop may have freed it already).
 */
#include "server/work.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/metrics.h"
#include "base/util.h"

/* After util.h: uv.h pulls in sys/param.h, whose MIN/MAX would otherwise
 * clash with util.h's (a system header may redefine silently, we may not). */
#include <uv.h>

/* ---- threadpool jobs ---- */

typedef struct {
    uv_work_t req;
    WorkRunFn run;
    WorkDoneFn done;
    void *arg;
} WorkJob;

static atomic_size_t work_jobs;

size_t work_jobs_in_flight(void) { return atomic_load(&work_jobs); }

static void job_run_cb(uv_work_t *w)
{
    WorkJob *job = w->data;
    job->run(job->arg);
}

static void job_after_cb(uv_work_t *w, int status)
{
    WorkJob *job = w->data;
    atomic_fetch_sub(&work_jobs, 1);
    WorkDoneFn done = job->done;
    void *arg = job->arg;
    free(job);
    done(arg, status == UV_ECANCELED ? ERR_BUSY : 0);
}

int work_submit(uv_loop_t *loop, WorkRunFn run, WorkDoneFn done, void *arg)
{
    if (atomic_fetch_add(&work_jobs, 1) >= WORK_MAX_JOBS) {
        atomic_fetch_sub(&work_jobs, 1);
        return ERR_FULL;
    }
    WorkJob *job = xmalloc(sizeof *job);
    job->req.data = job;
    job->run = run;
    job->done = done;
    job->arg = arg;
    int rc = uv_queue_work(loop, &job->req, job_run_cb, job_after_cb);
    if (rc) {
        /* Only EINVAL is possible here (a NULL callback): a programming error. */
        log_error("work: uv_queue_work: %s", uv_strerror(rc));
        atomic_fetch_sub(&work_jobs, 1);
        free(job);
        return ERR_INVAL;
    }
    return 0;
}

/* ---- worker queues ---- */

struct WorkQueue {
    uv_async_t async; /* first: its close callback frees the queue */
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t cond;
    WorkQueueConfig cfg;
    char name[32];
    char gauge_labels[64];
    WorkItem *pending_head, *pending_tail;
    size_t n_pending;
    WorkItem *done_head, *done_tail;
    size_t depth;
    int stopping;
    WorkItem **batch; /* max_batch slots, used by the thread only */
    uint8_t *early;   /* per batch slot: completed early (thread only) */
    size_t batch_n;   /* items in the running batch (thread only) */
};

static void queue_thread(void *arg)
{
    WorkQueue *q = arg;
    for (;;) {
        uv_mutex_lock(&q->lock);
        while (!q->pending_head && !q->stopping) uv_cond_wait(&q->cond, &q->lock);
        if (!q->pending_head) { /* stopping and drained */
            uv_mutex_unlock(&q->lock);
            break;
        }
        if (q->cfg.max_batch > 1 && q->cfg.batch_wait_us > 0) {
            uint64_t deadline = uv_hrtime() + (uint64_t)q->cfg.batch_wait_us * 1000;
            while (q->n_pending < q->cfg.max_batch && !q->stopping) {
                uint64_t now = uv_hrtime();
                if (now >= deadline) break;
                if (uv_cond_timedwait(&q->cond, &q->lock, deadline - now) == UV_ETIMEDOUT) break;
            }
        }
        size_t n = 0;
        while (q->pending_head && n < q->cfg.max_batch) {
            WorkItem *it = q->pending_head;
            q->pending_head = it->next;
            it->next = NULL;
            q->batch[n++] = it;
        }
        if (!q->pending_head) q->pending_tail = NULL;
        q->n_pending -= n;
        uv_mutex_unlock(&q->lock);

        memset(q->early, 0, n);
        q->batch_n = n;
        q->cfg.run(q->cfg.ctx, q->batch, n);
        q->batch_n = 0;

        uv_mutex_lock(&q->lock);
        for (size_t i = 0; i < n; i++) {
            if (q->early[i]) continue;
            if (q->done_tail)
                q->done_tail->next = q->batch[i];
            else
                q->done_head = q->batch[i];
            q->done_tail = q->batch[i];
        }
        int idle = q->cfg.idle && !q->pending_head;
        uv_mutex_unlock(&q->lock);
        uv_async_send(&q->async);
        if (idle) q->cfg.idle(q->cfg.ctx);
    }
}

/* deliver_early appends item to the completed list and wakes the loop;
 * extra_depth counts an item that was never pushed (delivery subtracts
 * every delivered item from depth). */
static void deliver_early(WorkQueue *q, WorkItem *item, size_t extra_depth)
{
    uv_mutex_lock(&q->lock);
    q->depth += extra_depth;
    item->next = NULL;
    if (q->done_tail)
        q->done_tail->next = item;
    else
        q->done_head = item;
    q->done_tail = item;
    uv_mutex_unlock(&q->lock);
    uv_async_send(&q->async);
}

int work_queue_complete(WorkQueue *q, WorkItem *item)
{
    size_t i = 0;
    while (i < q->batch_n && (q->batch[i] != item || q->early[i])) i++;
    if (i == q->batch_n) return ERR_INVAL;
    q->early[i] = 1;
    deliver_early(q, item, 0);
    return 0;
}

void work_queue_post(WorkQueue *q, WorkItem *item) { deliver_early(q, item, 1); }

/* deliver hands every completed item to the done callback, in order. */
static void queue_deliver(WorkQueue *q)
{
    uv_mutex_lock(&q->lock);
    WorkItem *it = q->done_head;
    size_t n = 0;
    for (WorkItem *c = it; c; c = c->next) n++;
    q->done_head = q->done_tail = NULL;
    q->depth -= n;
    size_t depth = q->depth;
    uv_mutex_unlock(&q->lock);
    if (n) metrics_gauge_set("vitrine_work_queue_depth", q->gauge_labels, (double)depth);
    while (it) {
        WorkItem *next = it->next;
        it->next = NULL;
        q->cfg.done(q->cfg.ctx, it);
        it = next;
    }
}

static void queue_async_cb(uv_async_t *a)
{
    queue_deliver((WorkQueue *)a);
}

static void queue_close_cb(uv_handle_t *h)
{
    WorkQueue *q = (WorkQueue *)h;
    uv_mutex_destroy(&q->lock);
    uv_cond_destroy(&q->cond);
    free(q->batch);
    free(q->early);
    free(q);
}

int work_queue_start(uv_loop_t *loop, const WorkQueueConfig *cfg, WorkQueue **out)
{
    *out = NULL;
    if (!cfg->run || !cfg->done || cfg->capacity < WORK_QUEUE_MIN_CAPACITY ||
        cfg->capacity > WORK_QUEUE_MAX_CAPACITY || cfg->max_batch < 1 || cfg->max_batch > WORK_QUEUE_MAX_BATCH)
        return ERR_INVAL;
    WorkQueue *q = xcalloc(1, sizeof *q);
    q->cfg = *cfg;
    snprintf(q->name, sizeof q->name, "%s", cfg->name ? cfg->name : "queue");
    q->cfg.name = q->name;
    snprintf(q->gauge_labels, sizeof q->gauge_labels, "queue=\"%s\"", q->name);
    q->batch = xcalloc(cfg->max_batch, sizeof(WorkItem *));
    q->early = xcalloc(cfg->max_batch, 1);
    if (uv_mutex_init(&q->lock) || uv_cond_init(&q->cond)) {
        log_error("work: %s: cannot create mutex", q->name);
        abort(); /* only fails on resource exhaustion at start-up */
    }
    int rc = uv_async_init(loop, &q->async, queue_async_cb);
    if (rc) {
        log_error("work: %s: uv_async_init: %s", q->name, uv_strerror(rc));
        uv_mutex_destroy(&q->lock);
        uv_cond_destroy(&q->cond);
        free(q->batch);
        free(q->early);
        free(q);
        return ERR_IO;
    }
    rc = uv_thread_create(&q->thread, queue_thread, q);
    if (rc) {
        log_error("work: %s: cannot start thread: %s", q->name, uv_strerror(rc));
        uv_close((uv_handle_t *)&q->async, queue_close_cb);
        return ERR_IO;
    }
    metrics_describe("vitrine_work_queue_depth", METRICS_GAUGE,
                     "Items in a worker queue, from push to delivery.");
    metrics_gauge_set("vitrine_work_queue_depth", q->gauge_labels, 0);
    *out = q;
    return 0;
}

int work_queue_push(WorkQueue *q, WorkItem *item)
{
    uv_mutex_lock(&q->lock);
    if (q->stopping) {
        uv_mutex_unlock(&q->lock);
        return ERR_BUSY;
    }
    if (q->depth >= q->cfg.capacity) {
        uv_mutex_unlock(&q->lock);
        return ERR_FULL;
    }
    item->next = NULL;
    if (q->pending_tail)
        q->pending_tail->next = item;
    else
        q->pending_head = item;
    q->pending_tail = item;
    q->n_pending++;
    size_t depth = ++q->depth;
    uv_cond_signal(&q->cond);
    uv_mutex_unlock(&q->lock);
    metrics_gauge_set("vitrine_work_queue_depth", q->gauge_labels, (double)depth);
    return 0;
}

size_t work_queue_depth(WorkQueue *q)
{
    uv_mutex_lock(&q->lock);
    size_t d = q->depth;
    uv_mutex_unlock(&q->lock);
    return d;
}

void work_queue_stop(WorkQueue *q)
{
    if (!q) return;
    uv_mutex_lock(&q->lock);
    q->stopping = 1;
    uv_cond_broadcast(&q->cond);
    uv_mutex_unlock(&q->lock);
    uv_thread_join(&q->thread);
    /* The thread is gone, so no more sends: deliver what it left. */
    queue_deliver(q);
    uv_close((uv_handle_t *)&q->async, queue_close_cb);
}
