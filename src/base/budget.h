/*
 * budget.h - a process-wide memory budget that request memory is charged
 * against (request bodies, the arenas their JSON is parsed into).
 *
 * Design. A MemBudget is a counter of bytes in use and two limits.
 * Charging never allocates anything: it only says whether the bytes may
 * be taken. budget_try_charge refuses (ERR_FULL) when the bytes would go
 * past the admission limit, which is what admission control uses (a new
 * large request is answered 503 with Retry-After instead of growing the
 * process); budget_charge always succeeds, for memory that is already
 * committed (a small request, a chunk an arena has just taken), so the
 * counter stays exact and the next admission sees it. budget_exceeded
 * says when the counter is past the hard limit, where work that can stop
 * (a JSON parse) stops: the room between the two limits absorbs what
 * admitted requests take beyond their reservation and the small requests
 * that are never refused. The counter is atomic:
 * bodies are charged on the loop thread, arenas on whichever thread
 * parses (the threadpool).
 */
#ifndef VITRINE_BUDGET_H
#define VITRINE_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct {
    _Atomic size_t used; /* bytes charged and not yet released */
    _Atomic size_t peak; /* highest used seen, for metrics and tests */
    size_t admit;        /* budget_try_charge refuses beyond this */
    size_t limit;        /* budget_exceeded beyond this */
} MemBudget;

/* budget_init sets the hard limit (0: unlimited) and the admission limit
 * (at most limit) and zeroes the counters. */
void budget_init(MemBudget *b, size_t admit, size_t limit);
/* budget_try_charge takes n bytes if used + n stays within the admission
 * limit: 0, or ERR_FULL (nothing taken). */
int budget_try_charge(MemBudget *b, size_t n);
/* budget_charge takes n bytes whatever the limit. */
void budget_charge(MemBudget *b, size_t n);
/* budget_release gives back n bytes charged earlier. */
void budget_release(MemBudget *b, size_t n);
/* budget_used and budget_peak read the counters. */
size_t budget_used(const MemBudget *b);
size_t budget_peak(const MemBudget *b);
/* budget_exceeded is 1 while more than the hard limit is charged. */
int budget_exceeded(const MemBudget *b);

#endif
