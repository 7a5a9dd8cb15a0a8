/*
 * arena.h - a bump allocator freed all at once (h2o's per-request pool).
 *
 * A request, a parse or a batch allocates from one arena and releases it
 * with one arena_free, so no individual pointer has to be tracked. Memory is
 * taken in chunks; an allocation larger than a chunk gets its own chunk.
 * Allocations are 16-byte aligned (enough for SIMD loads of floats).
 */
#ifndef VITRINE_ARENA_H
#define VITRINE_ARENA_H

#include <stddef.h>

#include "base/budget.h"

typedef struct ArenaChunk ArenaChunk;

typedef struct {
    ArenaChunk *head;
    size_t chunk_size;
    size_t total;      /* bytes handed out, for limits and metrics */
    MemBudget *budget; /* charged for every chunk, or NULL */
    size_t charged;    /* bytes charged to budget on this arena's behalf */
    size_t prepaid;    /* part of charged not yet used by chunks */
} Arena;

#define ARENA_DEFAULT_CHUNK (64 * 1024)

void arena_init(Arena *a, size_t chunk_size);
void *arena_alloc(Arena *a, size_t n);
void *arena_calloc(Arena *a, size_t n);
char *arena_strndup(Arena *a, const char *s, size_t n);
void arena_free(Arena *a);
/* arena_set_budget charges the arena's chunks (those it holds and those it
 * takes later) to b until arena_free releases them. A request's arena is
 * charged to the server's budget so its parsed JSON counts (budget.h);
 * json.c stops a parse with ERR_FULL when the budget is exceeded. */
void arena_set_budget(Arena *a, MemBudget *b);
/* arena_prepay records that n bytes were charged to the arena's budget
 * for it in advance (a reservation made at admission): later chunks use
 * them up before charging the budget again; arena_free releases them with
 * the rest. */
void arena_prepay(Arena *a, size_t n);

#endif
