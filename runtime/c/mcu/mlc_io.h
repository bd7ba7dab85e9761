/* mlc_io.h: what the run harness needs from its platform: arguments, whole-file reads and writes,
 * console lines.
 *
 * Why so narrow: harness.c is the same on a microcontroller (io_semihost.c, files on the debug
 * host) and on a PC (io_host.c, stdio, for ASan/UBSan runs), so everything that differs between
 * the two lives behind these four calls. Files are read and written as a list of parts so each
 * tensor lands in its own aligned buffer with no staging copy (RAM is what an MCU lacks).
 */
#ifndef MLC_IO_H
#define MLC_IO_H

#include <stddef.h>

#define MLC_IO_OK 0
#define MLC_IO_FAILED (-1)    /* cannot open, read or write */
#define MLC_IO_WRONG_SIZE (-2) /* the file is not exactly the parts' total size */

/* Point *args at the program's arguments (args[0] is the program name); returns their count.
 * argc/argv are main's (used on the host; a semihosted image asks the debug host instead). */
int mlc_io_args(int argc, char **argv, char ***args);

/* Fill parts[0..count) (sizes[k] bytes each, in order) from the file at path, which must hold
 * exactly their total. *file_bytes gets the file's size when it could be opened, else -1. */
int mlc_io_read_parts(const char *path, void *const *parts, const size_t *sizes, int count,
                      long *file_bytes);

/* Write parts[0..count) back to back to path (created or truncated). */
int mlc_io_write_parts(const char *path, const void *const *parts, const size_t *sizes,
                       int count);

/* Print text as it is (the harness adds the newlines) to the console. */
void mlc_io_print(const char *text);

#endif /* MLC_IO_H */
