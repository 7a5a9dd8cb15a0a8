/*
 * budget.c - the memory budget declared in budget.h.
 *
 * budget_try_charge uses a compare-and-swap loop so two threads cannot
 * both see room for the last bytes and both take them.
 */
#include "base/budget.h"

#include "base/err.h"

void budget_init(MemBudget *b, size_t admit, size_t limit)
{
    atomic_store(&b->used, 0);
    atomic_store(&b->peak, 0);
    b->limit = limit;
    b->admit = limit && admit > limit ? limit : admit;
}

static void note_peak(MemBudget *b, size_t used)
{
    size_t peak = atomic_load(&b->peak);
    while (used > peak && !atomic_compare_exchange_weak(&b->peak, &peak, used)) {
    }
}

int budget_try_charge(MemBudget *b, size_t n)
{
    size_t used = atomic_load(&b->used);
    for (;;) {
        if (b->limit && (n > b->admit || used > b->admit - n)) return ERR_FULL;
        if (atomic_compare_exchange_weak(&b->used, &used, used + n)) break;
    }
    note_peak(b, used + n);
    return 0;
}

void budget_charge(MemBudget *b, size_t n)
{
    size_t used = atomic_fetch_add(&b->used, n) + n;
    note_peak(b, used);
}

void budget_release(MemBudget *b, size_t n)
{
    atomic_fetch_sub(&b->used, n);
}

size_t budget_used(const MemBudget *b) { return atomic_load(&((MemBudget *)b)->used); }
size_t budget_peak(const MemBudget *b) { return atomic_load(&((MemBudget *)b)->peak); }

int budget_exceeded(const MemBudget *b)
{
    return b->limit && budget_used(b) > b->limit;
}
