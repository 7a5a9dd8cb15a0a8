/*
 * arena.c - the bump allocator declared in arena.h.
 *
 * Chunks form a singly linked list whose head is the chunk being filled.
 * An allocation bigger than the chunk size gets a chunk of its own that is
 * linked behind the head, so the head's remaining space is not wasted.
 * Sizes are rounded up to 16 bytes, which keeps every pointer 16-aligned
 * because each chunk's data starts 16-aligned.
 */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

struct ArenaChunk {
    ArenaChunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

void arena_init(Arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : ARENA_DEFAULT_CHUNK;
    a->total = 0;
    a->budget = NULL;
    a->charged = 0;
    a->prepaid = 0;
}

void arena_set_budget(Arena *a, MemBudget *b)
{
    if (a->budget) budget_release(a->budget, a->charged);
    a->budget = b;
    if (b) budget_charge(b, a->charged);
}

void arena_prepay(Arena *a, size_t n)
{
    a->charged += n;
    a->prepaid += n;
}


/* chunk_new allocates a chunk of cap bytes and charges it to the budget:
 * the memory is already taken, so the charge cannot be refused; whoever
 * decides (admission, the JSON parser) looks at the budget afterwards. */
static ArenaChunk *chunk_new(Arena *a, size_t cap)
{
    ArenaChunk *c = xmalloc(sizeof(ArenaChunk) + cap);
    c->used = 0;
    c->cap = cap;
    size_t cost = sizeof(ArenaChunk) + cap;
    if (a->prepaid >= cost) {
        a->prepaid -= cost;
        return c;
    }
    cost -= a->prepaid;
    a->prepaid = 0;
    a->charged += cost;
    if (a->budget) budget_charge(a->budget, cost);
    return c;
}

void *arena_alloc(Arena *a, size_t n)
{
    /* A size near SIZE_MAX would wrap when rounded up; that is an
     * out-of-memory request, which is fatal like any other (see util.h). */
    if (n > SIZE_MAX - sizeof(ArenaChunk) - 16) {
        log_error("arena: allocation of %zu bytes is too large", n);
        abort();
    }
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > a->chunk_size ? n : a->chunk_size;
        ArenaChunk *c = chunk_new(a, cap);
        if (a->head && n > a->chunk_size) {
            /* A big one-off goes behind the current chunk so the current
             * chunk's free space stays usable for the small ones. */
            c->next = a->head->next;
            a->head->next = c;
            c->used = n;
            a->total += n;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    a->total += n;
    return p;
}

void *arena_calloc(Arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void arena_free(Arena *a)
{
    ArenaChunk *c = a->head;
    while (c) {
        ArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
    if (a->budget) budget_release(a->budget, a->charged);
    a->charged = 0;
    a->prepaid = 0;
}
