/* semihost.c: ARM semihosting through `bkpt 0xab` (operation in r0, parameter block in r1,
 * result in r0), as the ARM semihosting spec defines it for M-profile cores.
 *
 * Why one trap function and parameter blocks in arrays: every call has the same shape, so a single
 * inline-asm helper is the only non-portable line, and the "memory" clobber makes the compiler
 * write the block (and later read what the host wrote into our buffers) around the trap.
 */
#include "semihost.h"

#include <stdint.h>

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_FLEN = 0x0C,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT_EXTENDED = 0x20
};

/* ADP_Stopped_ApplicationExit: the reason code that makes the exit code the process status. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static long trap(int op, const void *block) {
    register long r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static size_t length(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

int mlc_sh_open(const char *path, int mode) {
    uintptr_t block[3];
    block[0] = (uintptr_t)path;
    block[1] = (uintptr_t)mode;
    block[2] = (uintptr_t)length(path);
    return (int)trap(SYS_OPEN, block);
}

int mlc_sh_close(int handle) {
    uintptr_t block[1];
    block[0] = (uintptr_t)handle;
    return (int)trap(SYS_CLOSE, block);
}

long mlc_sh_read(int handle, void *buf, size_t n) {
    uintptr_t block[3];
    block[0] = (uintptr_t)handle;
    block[1] = (uintptr_t)buf;
    block[2] = (uintptr_t)n;
    return trap(SYS_READ, block);
}

long mlc_sh_write(int handle, const void *buf, size_t n) {
    uintptr_t block[3];
    block[0] = (uintptr_t)handle;
    block[1] = (uintptr_t)buf;
    block[2] = (uintptr_t)n;
    return trap(SYS_WRITE, block);
}

long mlc_sh_flen(int handle) {
    uintptr_t block[1];
    block[0] = (uintptr_t)handle;
    return trap(SYS_FLEN, block);
}

void mlc_sh_write0(const char *text) { (void)trap(SYS_WRITE0, text); }

int mlc_sh_get_cmdline(char *buf, size_t size) {
    uintptr_t block[2];
    if (size == 0) return -1;
    block[0] = (uintptr_t)buf;
    block[1] = (uintptr_t)size;
    if (trap(SYS_GET_CMDLINE, block) != 0) return -1;
    buf[size - 1] = '\0';
    return 0;
}

void mlc_sh_exit(int code) {
    uintptr_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uintptr_t)code;
    (void)trap(SYS_EXIT_EXTENDED, block);
    for (;;) {
        /* Only reached without a host (no debugger): nothing else to do. */
    }
}
