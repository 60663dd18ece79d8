// The interrupt state behind fconv_interrupt and Swift's Interruption.
//
// fck_interrupt advances a process-wide epoch. An interruptible call records the epoch when it
// starts, in its thread's scope, and has been interrupted once the epoch differs from it. Only
// an increment and loads are shared between threads, so interrupting is async-signal-safe and
// never waits, and a call that starts after an interrupt records the new epoch and runs on.
// A call may also record an interrupt source, a counter of its own: triggering the source
// interrupts the calls recorded with it and no other (tests use it to interrupt their own calls
// without reaching the calls of tests that run in parallel).
//
// Internal to libfactorconv (hidden by the release .so's version script).
#ifndef FACTORCONV_INTERRUPT_H
#define FACTORCONV_INTERRUPT_H

#include <stdint.h>

/// The interruptible call a thread runs, or works for (a worker thread of a parallel loop).
struct fck_interrupt_scope {
    /// The process epoch when the call started, plus one; 0 when the thread runs no such call.
    uint64_t epoch;
    /// The call's interrupt source (fck_interrupt_source_create), or NULL.
    const void *source;
    /// The source's count when the call started.
    uint64_t source_epoch;
};

/// Interrupts every interruptible call in progress: one relaxed atomic increment of the epoch
/// (async-signal-safe, callable from any thread).
void fck_interrupt(void);

/// A new interrupt source (NULL if out of memory), freed with fck_interrupt_source_free once no
/// call recorded with it runs any more.
void *fck_interrupt_source_create(void);

/// Frees an interrupt source; NULL is a no-op.
void fck_interrupt_source_free(void *source);

/// Interrupts the calls in progress that recorded `source` (async-signal-safe).
void fck_interrupt_source_trigger(void *source);

/// Starts an interruptible call on the calling thread, with `source` (or NULL), and returns 1;
/// returns 0 and changes nothing when the thread already runs one (the inner call is then part
/// of it). A call that got 1 ends with fck_interrupt_leave.
int fck_interrupt_enter(const void *source);

/// Ends the calling thread's interruptible call.
void fck_interrupt_leave(void);

/// The calling thread's scope, for handing to the worker threads of a parallel loop.
struct fck_interrupt_scope fck_interrupt_current(void);

/// Sets the calling thread's scope: a worker adopts its caller's for the work it runs for it,
/// then restores its own.
void fck_interrupt_adopt(struct fck_interrupt_scope scope);

/// 1 when the calling thread's interruptible call has been interrupted (by fck_interrupt or by
/// its source) since it started, else 0 (also outside interruptible calls).
int fck_interrupt_requested(void);

#endif
