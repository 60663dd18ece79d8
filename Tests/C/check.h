/*
 * check.h — the assertion counter shared by the single-threaded C tests in this folder.
 *
 * CHECK(cond, fmt, ...) counts a check and, when `cond` is false, prints the file, line, the
 * formatted message and the library's last error message, then goes on (a test reports every
 * failure, not just the first). check_summary(name) prints the tally and gives main's exit code.
 * Each test is one translation unit, so the counters are file-local statics.
 */
#ifndef FACTORCONV_TESTS_C_CHECK_H
#define FACTORCONV_TESTS_C_CHECK_H

#include <stdio.h>

#include "factorconv.h"

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        ++checks;                                                                               \
        if (!(cond)) {                                                                          \
            ++failures;                                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, " (%s)\n", fconv_last_error_message());                             \
        }                                                                                       \
    } while (0)

/* Prints "<name>: P of N checks passed" (or FAILED) and returns main's exit status. */
static int check_summary(const char *name) {
    printf("%s: %d of %d checks passed\n", failures ? "FAILED" : name, checks - failures, checks);
    return failures ? 1 : 0;
}

#endif
