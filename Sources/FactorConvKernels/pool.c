// The persistent worker pool behind Parallel.forEach (see factorconv_pool.h).
//
// A job is published through one 64-bit ticket: (job number << 32) | (parts << 16) | next part.
// A thread claims part `next` by a compare-and-swap of the ticket to next + 1, so a claim
// succeeds only on the job it read and only while parts remain; the job's function and context,
// written before the ticket is published (release) and read after a successful claim (acquire),
// therefore always belong to the claimed job. `unfinished` counts the parts not yet done; the
// caller returns when it reaches 0, which orders every part's writes before the caller's reads.
#define _GNU_SOURCE
#include "factorconv_pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

// How long a helper keeps polling for the next job after finishing one before it sleeps, in
// nanoseconds: long enough to cover the gap between a forward's stages and between forward
// calls in a loop, short enough not to hold a core that other processes want.
#define SPIN_NANOSECONDS 150000

#define JOB(t) ((uint32_t)((t) >> 32))
#define PARTS(t) ((int32_t)(((t) >> 16) & 0xFFFF))
#define NEXT(t) ((int32_t)((t) & 0xFFFF))

struct pool {
    uint64_t generation;              // the fork generation the pool was built in
    _Atomic uint64_t ticket;          // see the file comment
    _Atomic int32_t unfinished;       // parts of the current job not yet done
    _Atomic int32_t job_helpers;      // helpers (by index) asked to join the current job
    _Atomic int32_t sleepers;         // helpers blocked on `wake`
    _Atomic int busy;                 // 1 while a caller owns the pool (one job at a time)
    fck_pool_work work;               // the current job, valid for a thread holding a claim
    void *context;
    int32_t started;                  // helper threads created (written by the owning caller)
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
};

struct helper_start {
    struct pool *pool;
    int32_t index;
    uint32_t seen;                    // the job number when the helper was created
};

static _Atomic(struct pool *) current_pool;

static inline void pause_briefly(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// Claims and runs parts of job `job` until none is left unclaimed.
static void work_on(struct pool *pool, uint32_t job) {
    uint64_t t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    while (JOB(t) == job && NEXT(t) < PARTS(t)) {
        if (atomic_compare_exchange_weak_explicit(&pool->ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            pool->work(pool->context, NEXT(t));
            atomic_fetch_sub_explicit(&pool->unfinished, 1, memory_order_release);
            t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
        }
    }
}

/// Waits until a job other than `seen` is published; returns its ticket.
static uint64_t wait_for_job(struct pool *pool, uint32_t seen) {
    uint64_t t, deadline = now_nanoseconds() + SPIN_NANOSECONDS;
    for (unsigned i = 1;; i++) {
        t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
        if (JOB(t) != seen) return t;
        if (i % 64 == 0 && now_nanoseconds() > deadline) break;
        pause_briefly();
    }
    // Sleep. `sleepers` is raised before the ticket is read again (both sequentially
    // consistent), and the publisher stores the ticket before reading `sleepers`: either this
    // thread sees the new job or the publisher sees a sleeper and broadcasts, which it can do
    // only once this thread waits (the lock is held from the check to the wait).
    pthread_mutex_lock(&pool->sleep_lock);
    atomic_fetch_add(&pool->sleepers, 1);
    while (JOB(t = atomic_load(&pool->ticket)) == seen) pthread_cond_wait(&pool->wake, &pool->sleep_lock);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->sleep_lock);
    return t;
}

static void *helper_main(void *argument) {
    struct helper_start start = *(struct helper_start *)argument;
    free(argument);
    struct pool *pool = start.pool;
    uint32_t seen = start.seen;
    for (;;) {
        seen = JOB(wait_for_job(pool, seen));
        // A helper beyond the job's count stays out (at most `helpers` + 1 threads run a job's parts).
        if (start.index < atomic_load_explicit(&pool->job_helpers, memory_order_relaxed)) work_on(pool, seen);
    }
    return NULL;
}

/// A new pool without threads, or NULL when out of memory.
static struct pool *pool_create(uint64_t generation) {
    struct pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) return NULL;
    pool->generation = generation;
    atomic_init(&pool->ticket, 0);
    atomic_init(&pool->unfinished, 0);
    atomic_init(&pool->job_helpers, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->busy, 0);
    if (pthread_mutex_init(&pool->sleep_lock, NULL) != 0) { free(pool); return NULL; }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->sleep_lock);
        free(pool);
        return NULL;
    }
    return pool;
}

/// The pool of this process (fork generation `generation`), created on first use; NULL when out
/// of memory.
static struct pool *pool_for(uint64_t generation) {
    struct pool *pool = atomic_load_explicit(&current_pool, memory_order_acquire);
    if (pool != NULL && pool->generation == generation) return pool;
    // First use, or first use in a fork child: the parent's pool (its threads do not exist
    // here, its state may be mid-job) is left as it is.
    struct pool *fresh = pool_create(generation);
    if (fresh == NULL) return NULL;
    if (atomic_compare_exchange_strong_explicit(&current_pool, &pool, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    // Another thread installed one first.
    pthread_cond_destroy(&fresh->wake);
    pthread_mutex_destroy(&fresh->sleep_lock);
    free(fresh);
    return pool->generation == generation ? pool : NULL;
}

/// Starts helpers until `wanted` exist (the owning caller only); returns how many exist.
static int32_t start_helpers(struct pool *pool, int32_t wanted) {
    if (pool->started >= wanted) return wanted;
    // Helpers take no asynchronous signals: those go to the application's own threads.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pthread_attr_t attributes;
    int ok = pthread_attr_init(&attributes) == 0;
    if (ok) pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    while (ok && pool->started < wanted) {
        struct helper_start *start = malloc(sizeof *start);
        if (start == NULL) break;
        start->pool = pool;
        start->index = pool->started;
        start->seen = JOB(atomic_load_explicit(&pool->ticket, memory_order_relaxed));
        pthread_t thread;
        if (pthread_create(&thread, &attributes, helper_main, start) != 0) {
            free(start);
            break;
        }
        pool->started++;
    }
    if (ok) pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return pool->started;
}

int fck_pool_run(int32_t parts, int32_t helpers, fck_pool_work work, void *context, uint64_t generation) {
    if (parts < 1 || parts > 0xFFFF || helpers < 1) return 0;
    if (helpers > FCK_POOL_MAX_HELPERS) helpers = FCK_POOL_MAX_HELPERS;
    struct pool *pool = pool_for(generation);
    if (pool == NULL) return 0;
    int idle = 0;
    if (!atomic_compare_exchange_strong_explicit(&pool->busy, &idle, 1, memory_order_acquire, memory_order_relaxed))
        return 0;
    helpers = start_helpers(pool, helpers);
    if (helpers == 0) {
        atomic_store_explicit(&pool->busy, 0, memory_order_release);
        return 0;
    }
    pool->work = work;
    pool->context = context;
    atomic_store_explicit(&pool->unfinished, parts, memory_order_relaxed);
    atomic_store_explicit(&pool->job_helpers, helpers, memory_order_relaxed);
    uint32_t job = JOB(atomic_load_explicit(&pool->ticket, memory_order_relaxed)) + 1;
    if (job == 0) job = 1;            // 0 never names a job after the first, so wrapping is safe
    atomic_store(&pool->ticket, ((uint64_t)job << 32) | ((uint64_t)parts << 16));
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->sleep_lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->sleep_lock);
    }
    work_on(pool, job);
    for (unsigned i = 1; atomic_load_explicit(&pool->unfinished, memory_order_acquire) != 0; i++) {
        // A helper is finishing a part; yield now and then in case it waits for this core.
        if (i % 256 == 0) sched_yield(); else pause_briefly();
    }
    atomic_store_explicit(&pool->busy, 0, memory_order_release);
    return 1;
}
