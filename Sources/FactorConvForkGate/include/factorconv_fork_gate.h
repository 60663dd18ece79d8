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

/** Leaves the section entered by the matching fcgate_enter. */
void fcgate_leave(void);

/** How many times this process is a fork child of a process that used the library (0 in the
 *  original process): state tied to threads of the parent can be dropped when it changes. */
uint64_t fcgate_fork_generation(void);

#ifdef __cplusplus
}
#endif

#endif
