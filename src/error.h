/* Internal error reporting: set the thread's last-error message and return
 * the status, so a failing path reads `return ht_error(HT_ERR_IO, ...)`. */
#ifndef HT_ERROR_H
#define HT_ERROR_H

#include <stddef.h>

#include "hpctrain.h"

#if defined(__GNUC__)
#define HT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HT_PRINTF(a, b)
#endif

/* Formats the message into the calling thread's buffer; returns s. */
ht_status ht_error(ht_status s, const char *fmt, ...) HT_PRINTF(2, 3);

/* snprintf that never warns about truncation and always terminates. */
void ht_snprintf(char *buf, size_t len, const char *fmt, ...) HT_PRINTF(3, 4);

#endif
