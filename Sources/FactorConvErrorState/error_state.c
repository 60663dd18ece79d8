#include "factorconv_error_state.h"
#include <string.h>

// One buffer per thread, so concurrent callers never see each other's messages.
static _Thread_local char last_error[1024];

void factorconv_internal_set_last_error(const char *message) {
    if (message == NULL) {
        last_error[0] = '\0';
        return;
    }
    size_t n = strlen(message);
    if (n >= sizeof last_error) n = sizeof last_error - 1;
    memcpy(last_error, message, n);
    last_error[n] = '\0';
}

const char *factorconv_internal_last_error(void) { return last_error; }
