#include "factorconv_interrupt.h"

#include <stdatomic.h>
#include <stdlib.h>

// fck_interrupt runs inside signal handlers: the increment must be one lock-free atomic
// operation (a lock-based fallback could deadlock against the interrupted thread).
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the interrupt epoch needs lock-free 64-bit atomics");

// The number of fck_interrupt calls so far in this process.
static _Atomic unsigned long long epoch;

// The interruptible call the calling thread runs (or works for); all zero when none.
static _Thread_local struct fck_interrupt_scope current;

void fck_interrupt(void) { atomic_fetch_add_explicit(&epoch, 1, memory_order_relaxed); }

void *fck_interrupt_source_create(void) {
    _Atomic unsigned long long *source = malloc(sizeof *source);
    if (source != NULL) atomic_init(source, 0);
    return source;
}

void fck_interrupt_source_free(void *source) { free(source); }

void fck_interrupt_source_trigger(void *source) {
    atomic_fetch_add_explicit((_Atomic unsigned long long *)source, 1, memory_order_relaxed);
}

static uint64_t load(const void *counter) {
    return (uint64_t)atomic_load_explicit((_Atomic unsigned long long *)counter, memory_order_relaxed);
}

int fck_interrupt_enter(const void *source) {
    if (current.epoch != 0) return 0;
    current.epoch = load(&epoch) + 1;
    current.source = source;
    current.source_epoch = source != NULL ? load(source) : 0;
    return 1;
}

void fck_interrupt_leave(void) {
    current.epoch = 0;
    current.source = NULL;
    current.source_epoch = 0;
}

struct fck_interrupt_scope fck_interrupt_current(void) { return current; }

void fck_interrupt_adopt(struct fck_interrupt_scope scope) { current = scope; }

int fck_interrupt_requested(void) {
    if (current.epoch == 0) return 0;
    if (current.epoch != load(&epoch) + 1) return 1;
    return current.source != NULL && current.source_epoch != load(current.source);
}
