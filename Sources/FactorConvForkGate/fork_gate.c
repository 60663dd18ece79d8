/*
 * fork_gate.c — the gate of factorconv_fork_gate.h: a writer-preferring read/write lock that
 * sections hold for reading and the fork handler holds for writing.
 *
 * Writer preference matters: under a steady stream of calls from many threads, a reader-
 * preferring lock could keep fork() waiting forever. Nesting is counted per thread so that a
 * section entered inside another never waits behind a pending fork (which would deadlock).
 * A fork() called from inside a section (a callback run under a lock) cannot wait for itself:
 * the gate then stays open and the child is on its own, as without the gate.
 */
#define _GNU_SOURCE
#include "factorconv_fork_gate.h"

#include <pthread.h>

static pthread_rwlock_t gate;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned depth;
static int closed_for_fork;
static uint64_t fork_generation;
/* Per-thread counters of fcgate_thread_count (slot 0: sections, slot k: locks of kind k). */
static _Thread_local uint64_t counts[FCGATE_COUNTERS];

static void init_lock(void) {
    pthread_rwlockattr_t attributes;
    pthread_rwlockattr_init(&attributes);
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gate, &attributes);
    pthread_rwlockattr_destroy(&attributes);
}

static void before_fork(void) {
    if (depth == 0) {
        pthread_rwlock_wrlock(&gate);
        closed_for_fork = 1;
    }
}

static void after_fork_in_parent(void) {
    if (closed_for_fork) {
        closed_for_fork = 0;
        pthread_rwlock_unlock(&gate);
    }
}

static void after_fork_in_child(void) {
    /* The child has one thread, the one that called fork(): a fresh lock replaces the copy
     * (unlocking the copy from a thread that is not its writer is not defined). */
    closed_for_fork = 0;
    init_lock();
    fork_generation++;
}

static void install(void) {
    init_lock();
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

void fcgate_enter(void) {
    counts[0]++;
    if (depth++ == 0) {
        pthread_once(&gate_once, install);
        pthread_rwlock_rdlock(&gate);
    }
}

void fcgate_enter_lock(unsigned kind) {
    if (kind < FCGATE_COUNTERS) counts[kind]++;
    fcgate_enter();
}

uint64_t fcgate_thread_count(unsigned slot) { return slot < FCGATE_COUNTERS ? counts[slot] : 0; }

void fcgate_leave(void) {
    if (--depth == 0) pthread_rwlock_unlock(&gate);
}

uint64_t fcgate_fork_generation(void) { return fork_generation; }
