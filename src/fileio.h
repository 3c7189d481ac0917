/* Internal file helpers: whole-file reads, crash-safe replacement of a file,
 * and the CRC-32 the checkpoint format uses. Errors go through ht_error()
 * and name the path and the system's reason (strerror). */
#ifndef HT_FILEIO_H
#define HT_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "hpctrain.h"

/* Replaces `path` by `len` bytes of `data` so that a reader (or a crash)
 * sees either the old content or the complete new one, never a mix:
 * writes a temporary file path.tmpXXXXXX in the same directory (mkstemp),
 * fsyncs it, renames it over path and fsyncs the directory.
 * The new file keeps the permission bits of the file it replaces, or gets
 * 0666 & ~umask when path did not exist.
 * On any failure before the rename the temporary file is removed, an
 * existing file at path is left untouched and HT_ERR_IO names the path and
 * strerror (HT_ERR_NOMEM if the temporary name cannot be allocated). A
 * failure to fsync the directory after the rename is also HT_ERR_IO, but
 * the new content is then already in place. If path is a symbolic link,
 * the link itself is replaced, not its target.
 * len == 0 writes an empty file (data may then be NULL).
 * Thread-safe for distinct paths; not for use inside a parallel region
 * (it blocks on I/O). */
ht_status ht_file_write_atomic(const char *path, const void *data, size_t len);

/* Reads the whole of `path` into a new buffer: *data (malloc'd, the caller
 * frees it with free()) and *len. The buffer holds one extra NUL byte after
 * the data, not counted in len, so text parsers may rely on a terminator.
 * Works on regular files and on pipes. On error *data and *len are left
 * unchanged: HT_ERR_IO (cannot open or read, or a directory), HT_ERR_NOMEM.
 * Thread-safe. */
ht_status ht_file_read_all(const char *path, void **data, size_t *len);

/* ht_file_read_all, then, if the content is gzip (magic 1f 8b, whatever
 * the name), inflated: one or more members back to back, as gzip writes
 * them. The buffer is NUL-terminated as ht_file_read_all's. Errors as
 * ht_file_read_all's, plus HT_ERR_FORMAT naming the path for a truncated
 * or corrupt stream or trailing bytes after it. Thread-safe. */
ht_status ht_file_read_text(const char *path, void **data, size_t *len);

/* Whether the content of path (inflated first if gzip) begins with the
 * len bytes at magic (len <= 16); 0 if it cannot be read or is shorter.
 * Thread-safe. */
int ht_file_content_starts(const char *path, const void *magic, size_t len);

/* The standard CRC-32 (zlib's crc32, polynomial 0xEDB88320, initial value
 * 0, as in gzip and PNG) of len bytes; any len, data may be NULL when
 * len == 0. Thread-safe, allocation-free. */
uint32_t ht_crc32(const void *data, size_t len);

#endif /* HT_FILEIO_H */
