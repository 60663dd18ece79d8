// A persistent pool of worker threads for Swift's Parallel.forEach.
//
// One job at a time: the caller publishes `parts` work items, wakes the helper threads, works on
// the items itself, and returns once every item has run. Items are claimed one by one, so a
// helper that the OS does not schedule in time delays nothing: the caller runs its items. After a
// job, helpers spin briefly for the next one (a forward's stages follow each other with almost
// no gap), then sleep on a condition variable.
//
// Fork: the caller passes the fork generation (fcgate_fork_generation). A fork child, whose copy
// of the pool has no threads (and may hold its locks and counters mid-job), leaves that copy
// alone and builds a new pool on first use.
//
// Internal to libfactorconv (hidden by the release .so's version script).
#ifndef FACTORCONV_POOL_H
#define FACTORCONV_POOL_H

#include <stdint.h>

/// A work item: `part` of the job whose context is `context`.
typedef void (*fck_pool_work)(void *context, int32_t part);

/// Runs work(context, p) for every p in 0..<parts, on the calling thread and on up to
/// `helpers` pool threads (helpers ≤ FCK_POOL_MAX_HELPERS; fewer if threads cannot be created),
/// and returns 1 once all have run. Returns 0 and runs nothing when the pool is busy with
/// another job (a concurrent caller, or a work item that itself calls this): the caller then
/// runs the items itself. `generation` is the process's fork generation.
int fck_pool_run(int32_t parts, int32_t helpers, fck_pool_work work, void *context, uint64_t generation);

/// The most helper threads the pool starts.
#define FCK_POOL_MAX_HELPERS 255

#endif
