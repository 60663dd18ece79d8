/*
 * factorconv_fork_gate.h — keeps fork() from copying a lock of the library in the locked state.
 *
 * Every lock that outlives one call (a layer's state, caches, the workspace pool, the handle
 * registry) is taken only inside a gate section, and so is every call into OpenBLAS, whose own
 * locks (its buffer allocator's) a fork during a call would copy locked. Before fork() the
 * library's pthread_atfork handler closes the gate: it waits until no thread is inside a
 * section (sections are short: a copy, a table update, one BLAS call) and keeps new ones out
 * until fork() returns. The child therefore inherits every library lock unlocked and every
 * structure they guard consistent, and reopens the gate for itself.
 */
#ifndef FACTORCONV_FORK_GATE_H
#define FACTORCONV_FORK_GATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Enters a gate section (nestable on one thread). Installs the fork handlers on first use. */
void fcgate_enter(void);

/** fcgate_enter for a lock section: also counts one acquisition of lock kind `kind` (a
 *  `LibraryMutex` kind, 1..FCGATE_COUNTERS-1) on this thread. */
void fcgate_enter_lock(unsigned kind);

/** Leaves the section entered by the matching fcgate_enter or fcgate_enter_lock. */
void fcgate_leave(void);

/** How many times this process is a fork child of a process that used the library (0 in the
 *  original process): state tied to threads of the parent can be dropped when it changes. */
uint64_t fcgate_fork_generation(void);

/** Slots of the per-thread counters read by fcgate_thread_count: slot 0 counts every section
 *  entered (locks, BLAS calls, nested ones too), slot k > 0 the acquisitions of lock kind k. */
#define FCGATE_COUNTERS 8

/** How many times this thread has entered sections (slot 0) or taken locks of kind `slot`
 *  since it started (0 for a slot out of range). Tests read it before and after a call to see
 *  what one call locks; counting is one thread-local increment. */
uint64_t fcgate_thread_count(unsigned slot);

#ifdef __cplusplus
}
#endif

#endif
