#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char last_error[512];

ht_status ht_error(ht_status s, const char *fmt, ...)
{
    /* Formatted into a copy first: callers prefix a cause with their
     * context by passing ht_last_error() itself as an argument, and
     * vsnprintf must not read the buffer it writes. */
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    return s;
}

void ht_snprintf(char *buf, size_t len, const char *fmt, ...)
{
    if (len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

const char *ht_last_error(void)
{
    return last_error;
}

const char *ht_status_str(ht_status s)
{
    switch (s) {
    case HT_OK: return "ok";
    case HT_ERR_ARG: return "invalid argument";
    case HT_ERR_NOMEM: return "out of memory";
    case HT_ERR_IO: return "input/output error";
    case HT_ERR_FORMAT: return "malformed file";
    case HT_ERR_SHAPE: return "shape mismatch";
    case HT_ERR_ISA: return "instruction set not available";
    case HT_ERR_DIVERGED: return "training diverged";
    case HT_ERR_CHECKSUM: return "checksum mismatch";
    case HT_ERR_UNSUPPORTED: return "unsupported case";
    }
    return "unknown status";
}
