/* semihost.h: the few ARM semihosting calls the bare-metal harness needs.
 *
 * Why semihosting: under QEMU (-semihosting-config enable=on,target=native) and on a board with a
 * debug probe it gives a microcontroller files, a console, its command line and an exit code
 * without any driver, so one harness runs on every Cortex-M board unchanged. Written against the
 * ARM "Semihosting for AArch32 and AArch64" spec rather than newlib's rdimon, so the image carries
 * no stdio and no heap. Every call is a `bkpt 0xab` trap: without a debugger attached it faults,
 * so only use these where a host is listening.
 */
#ifndef MLC_SEMIHOST_H
#define MLC_SEMIHOST_H

#include <stddef.h>

/* Open modes (index into the spec's fopen mode table). */
#define MLC_SH_MODE_RB 1 /* "rb" */
#define MLC_SH_MODE_WB 5 /* "wb" */

/* Returns a handle >= 0, or -1. */
int mlc_sh_open(const char *path, int mode);
int mlc_sh_close(int handle);
/* Both return the number of bytes NOT transferred (0 = all of them), or -1. */
long mlc_sh_read(int handle, void *buf, size_t n);
long mlc_sh_write(int handle, const void *buf, size_t n);
/* Length of an open file in bytes, or -1. */
long mlc_sh_flen(int handle);
/* Write a NUL-terminated string to the host's console. */
void mlc_sh_write0(const char *text);
/* Copy the command line (NUL-terminated) into buf; returns 0 on success. */
int mlc_sh_get_cmdline(char *buf, size_t size);
/* End the program with this exit code (SYS_EXIT_EXTENDED); never returns. */
void mlc_sh_exit(int code) __attribute__((noreturn));

#endif /* MLC_SEMIHOST_H */
