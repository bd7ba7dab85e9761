/* io_host.c: mlc_io.h over stdio, so the same harness runs as a host executable (e.g. built with
 * ASan/UBSan) with the same protocol as on the microcontroller.
 *
 * Why no clock here: the harness times runs with the runtime's mlc_now_ns(), which on the host is
 * clock_gettime(CLOCK_MONOTONIC) in runtime.c, so host and MCU numbers come from one code path.
 */
#include <stdio.h>

#include "mlc_io.h"

int mlc_io_args(int argc, char **argv, char ***args) {
    *args = argv;
    return argc;
}

int mlc_io_read_parts(const char *path, void *const *parts, const size_t *sizes, int count,
                      long *file_bytes) {
    size_t total = 0;
    int k, result = MLC_IO_OK;
    FILE *file = fopen(path, "rb");
    *file_bytes = -1;
    if (file == NULL) return MLC_IO_FAILED;
    for (k = 0; k < count; ++k) total += sizes[k];
    if (fseek(file, 0, SEEK_END) != 0 || (*file_bytes = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0) {
        result = MLC_IO_FAILED;
    } else if ((unsigned long)*file_bytes != total) {
        result = MLC_IO_WRONG_SIZE;
    } else {
        for (k = 0; k < count && result == MLC_IO_OK; ++k) {
            if (sizes[k] > 0 && fread(parts[k], 1, sizes[k], file) != sizes[k])
                result = MLC_IO_FAILED;
        }
    }
    fclose(file);
    return result;
}

int mlc_io_write_parts(const char *path, const void *const *parts, const size_t *sizes,
                       int count) {
    int k, result = MLC_IO_OK;
    FILE *file = fopen(path, "wb");
    if (file == NULL) return MLC_IO_FAILED;
    for (k = 0; k < count && result == MLC_IO_OK; ++k) {
        if (sizes[k] > 0 && fwrite(parts[k], 1, sizes[k], file) != sizes[k])
            result = MLC_IO_FAILED;
    }
    if (fclose(file) != 0) result = MLC_IO_FAILED;
    return result;
}

void mlc_io_print(const char *text) {
    fputs(text, stdout);
    fflush(stdout);
}
