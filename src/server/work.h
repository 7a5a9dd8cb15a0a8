/*
 * work.h - moving blocking work off the loop thread, and back.
 *
 * The loop thread never blocks (no disk, no GEMM, no image decode). Two
 * mechanisms carry work away and bring the result back to the loop:
 *
 * 1. Threadpool jobs (work_submit): run(arg) on a libuv threadpool thread,
 *    then done(arg, status) on the loop thread. For independent read-only
 *    work that parallelises: searches, image decodes. In flight at most
 *    WORK_MAX_JOBS; beyond that work_submit says ERR_FULL (-> 503).
 *
 * 2. Work queues (work_queue_*): one dedicated thread that owns a resource
 *    and processes a bounded FIFO of items, optionally in batches. For the
 *    inference batcher (collect up to max_batch items or batch_wait_us, run
 *    the towers once) and the single LMDB writer (take everything queued,
 *    commit once). Finished items return through a uv_async handle; since
 *    uv_async_send coalesces, its callback drains the whole completion list.
 *    A full queue says ERR_FULL (-> 503 with Retry-After).
 *
 * Early completion: the batch function may hand an item back before its
 * batch ends (work_queue_complete), e.g. the writer acknowledging a
 * wait=false client as soon as the group's commit is durable while the
 * group's in-memory changes are still being applied. Every item is
 * delivered exactly once, early or after its batch.
 *
 * Items are intrusive: embed a WorkItem as the first member of your own
 * struct and cast back in the callbacks, so a push allocates nothing.
 *
 *     typedef struct { WorkItem item; HttpRequest *req; float out[512]; } EmbedJob;
 *
 * Threads: work_submit, work_queue_start/_stop and all done callbacks are
 * loop-thread only; work_queue_push is thread-safe (the loop thread is the
 * usual caller).
 */
#ifndef VITRINE_WORK_H
#define VITRINE_WORK_H

#include <stddef.h>

struct uv_loop_s; /* from uv.h, which only work.c and server.c include */

/* ---- threadpool jobs ---- */

/* Jobs in flight at once, process-wide (libuv's pool has 4 threads by
 * default, UV_THREADPOOL_SIZE; the rest wait in its queue). */
#define WORK_MAX_JOBS 1024

typedef void (*WorkRunFn)(void *arg);              /* on a threadpool thread */
typedef void (*WorkDoneFn)(void *arg, int status); /* on the loop: 0, or ERR_BUSY if cancelled */

/* work_submit queues run(arg) on the threadpool, then done(arg, status) on
 * loop. 0, or ERR_FULL (nothing is queued and done is not called). */
int work_submit(struct uv_loop_s *loop, WorkRunFn run, WorkDoneFn done, void *arg);

/* work_jobs_in_flight counts submitted jobs whose done has not run yet. */
size_t work_jobs_in_flight(void);

/* ---- worker thread with a bounded queue ---- */

#define WORK_QUEUE_MIN_CAPACITY 1
#define WORK_QUEUE_DEFAULT_CAPACITY 256
#define WORK_QUEUE_MAX_CAPACITY 65536
#define WORK_QUEUE_MAX_BATCH 1024

typedef struct WorkItem WorkItem;
struct WorkItem {
    WorkItem *next; /* private: queue link */
    int status;     /* free for the batch function to report a result */
};

/* Runs on the queue's thread with 1..max_batch items in FIFO order. */
typedef void (*WorkBatchFn)(void *ctx, WorkItem **items, size_t n);
/* Runs on the loop thread once per item: after its batch, in FIFO order,
 * or earlier, in the order of the work_queue_complete calls, for the items
 * completed early. */
typedef void (*WorkItemDoneFn)(void *ctx, WorkItem *item);
/* Runs on the queue's thread when a batch has left the queue empty. */
typedef void (*WorkIdleFn)(void *ctx);

typedef struct {
    const char *name;       /* for logs and the depth gauge: "embed", "writer" */
    size_t capacity;        /* items pushed and not yet delivered; ERR_FULL beyond */
    size_t max_batch;       /* items handed to run at once (1 = one at a time) */
    unsigned batch_wait_us; /* how long to wait for a batch to fill (0 = take what is there) */
    WorkBatchFn run;
    WorkItemDoneFn done;
    /* Optional: called after a batch whenever no item is waiting (the
     * writer saves deferred state there, collection_db_flush). Items pushed
     * meanwhile wait for it to return; completions are not held up. */
    WorkIdleFn idle;
    void *ctx;
} WorkQueueConfig;

typedef struct WorkQueue WorkQueue;

/* work_queue_start starts the thread. ERR_INVAL for a bad config, ERR_IO
 * when the thread or the async handle cannot be created. */
int work_queue_start(struct uv_loop_s *loop, const WorkQueueConfig *cfg, WorkQueue **out);

/* work_queue_push enqueues item. ERR_FULL when at capacity, ERR_BUSY once
 * stopping; on error the queue did not take the item. */
int work_queue_push(WorkQueue *q, WorkItem *item);

/*
 * work_queue_complete delivers item, one of the batch being run, to the
 * done callback on the loop now, without waiting for the batch to end.
 * Call it only from the batch function (on the queue's thread); from then
 * on the item belongs to the loop (its done callback may free it), so the
 * batch function must not touch it again. ERR_INVAL when item is not in
 * the running batch or was completed already.
 */
int work_queue_complete(WorkQueue *q, WorkItem *item);

/*
 * work_queue_post delivers item, which was never pushed, to the done
 * callback on the loop now, as if it were a completed item. Call it only
 * from the batch function (on the queue's thread), when the batch has
 * finished part of its work that must not wait for the rest (the
 * embedder answers a text query run in the middle of an image batch).
 * It neither fails nor counts against the capacity: it carries work
 * already admitted, and is delivered even while the queue stops.
 */
void work_queue_post(WorkQueue *q, WorkItem *item);

/* work_queue_depth is the number of items pushed and not yet delivered. */
size_t work_queue_depth(WorkQueue *q);

/*
 * work_queue_stop refuses new items, lets the thread finish every queued
 * item, joins it, delivers the remaining completions, and closes the async
 * handle; q is freed by the loop when the handle's close completes. Call it
 * on the loop thread, at shutdown, after the last connection closed: it
 * blocks for as long as the queued work takes.
 */
void work_queue_stop(WorkQueue *q);

#endif
