/*
 * proc_status.h — reads a memory field of /proc/self/status (header-only, C99), shared by the
 * stress and memory-limit tests.
 */
#ifndef FACTORCONV_PROC_STATUS_H
#define FACTORCONV_PROC_STATUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value in KiB of `field` (e.g. "VmRSS:", "VmHWM:"), or -1 when it cannot be read. */
static long proc_status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) v = atol(line + n + 1);
    fclose(f);
    return v;
}

#endif
