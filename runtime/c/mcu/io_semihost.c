/* io_semihost.c: mlc_io.h over ARM semihosting, for the bare-metal harness.
 *
 * Why the command line is split on spaces without quoting: the caller (mlc.runtime.mcu) runs
 * QEMU in a scratch directory and passes short fixed file names, so the simplest rule is enough;
 * a path with a space cannot be passed. The file's length is checked with SYS_FLEN before
 * anything is read, so a wrong-sized input is refused without touching the buffers.
 */
#include "mlc_io.h"
#include "semihost.h"

#define MAX_ARGS 8
#define CMDLINE_BYTES 512

static char cmdline[CMDLINE_BYTES];
static char *arg_list[MAX_ARGS + 1];

int mlc_io_args(int argc, char **argv, char ***args) {
    int n = 0;
    char *at = cmdline;
    (void)argc;
    (void)argv;
    *args = arg_list;
    if (mlc_sh_get_cmdline(cmdline, sizeof cmdline) != 0) return 0;
    for (;;) {
        while (*at == ' ') *at++ = '\0';
        if (*at == '\0') break;
        if (n == MAX_ARGS) return MAX_ARGS + 1; /* too many: the caller reports usage */
        arg_list[n++] = at;
        while (*at != '\0' && *at != ' ') ++at;
    }
    arg_list[n] = 0;
    return n;
}

int mlc_io_read_parts(const char *path, void *const *parts, const size_t *sizes, int count,
                      long *file_bytes) {
    size_t total = 0;
    int k, handle = mlc_sh_open(path, MLC_SH_MODE_RB), result = MLC_IO_OK;
    *file_bytes = -1;
    if (handle < 0) return MLC_IO_FAILED;
    for (k = 0; k < count; ++k) total += sizes[k];
    *file_bytes = mlc_sh_flen(handle);
    if (*file_bytes < 0) {
        result = MLC_IO_FAILED;
    } else if ((unsigned long)*file_bytes != total) {
        result = MLC_IO_WRONG_SIZE;
    } else {
        for (k = 0; k < count && result == MLC_IO_OK; ++k) {
            if (sizes[k] > 0 && mlc_sh_read(handle, parts[k], sizes[k]) != 0)
                result = MLC_IO_FAILED;
        }
    }
    (void)mlc_sh_close(handle);
    return result;
}

int mlc_io_write_parts(const char *path, const void *const *parts, const size_t *sizes,
                       int count) {
    int k, handle = mlc_sh_open(path, MLC_SH_MODE_WB), result = MLC_IO_OK;
    if (handle < 0) return MLC_IO_FAILED;
    for (k = 0; k < count && result == MLC_IO_OK; ++k) {
        if (sizes[k] > 0 && mlc_sh_write(handle, parts[k], sizes[k]) != 0) result = MLC_IO_FAILED;
    }
    if (mlc_sh_close(handle) != 0) result = MLC_IO_FAILED;
    return result;
}

void mlc_io_print(const char *text) { mlc_sh_write0(text); }
