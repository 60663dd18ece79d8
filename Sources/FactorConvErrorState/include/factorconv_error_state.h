// Thread-local storage for the C ABI's last error message (fconv_last_error_message).
// Internal to libfactorconv: these symbols are hidden from the release .so by its version script.
#ifndef FACTORCONV_ERROR_STATE_H
#define FACTORCONV_ERROR_STATE_H

/// Stores a copy of `message` (truncated to fit) as this thread's last error message.
void factorconv_internal_set_last_error(const char *message);

/// This thread's last error message; "" when none was set. Valid until the next call on this thread.
const char *factorconv_internal_last_error(void);

#endif
