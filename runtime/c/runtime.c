/* runtime.c: the small ABI services every mlc library carries (version, status strings, timer).
 * Kept apart from thread_pool.c so a bare-metal build can take these without pthreads; there the
 * timer is mcu/systick.c when the build defines MLC_HAVE_SYSTICK, else it reads 0. */
#if !defined(_POSIX_C_SOURCE) && !defined(MLC_BARE_METAL)
#define _POSIX_C_SOURCE 200809L
#endif

#include "mlc_runtime.h"

#if !defined(MLC_BARE_METAL) && (defined(__unix__) || defined(__APPLE__))
#include <time.h>
#define MLC_HAVE_CLOCK 1
#endif

#if defined(MLC_BARE_METAL) && defined(MLC_HAVE_SYSTICK)
uint64_t mlc_systick_now_ns(void); /* mcu/systick.c: Cortex-M SysTick, linked into MCU images */
#endif

MLC_EXPORT int mlc_abi_version(void) { return MLC_ABI_VERSION; }

MLC_EXPORT const char *mlc_status_string(int code) {
    switch (code) {
    case MLC_OK: return "ok";
    case MLC_ERR_ARGUMENT: return "a null or misaligned buffer was passed to mlc_run";
    case MLC_ERR_INPUT: return "an input value the model cannot handle";
    case MLC_ERR_RESOURCE: return "the runtime could not get a resource (threads or memory)";
    case MLC_ERR_INTERNAL: return "internal error in the generated code (a bug in mlc)";
    default: return "unknown error code";
    }
}

MLC_EXPORT uint64_t mlc_now_ns(void) {
#ifdef MLC_HAVE_CLOCK
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#elif defined(MLC_BARE_METAL) && defined(MLC_HAVE_SYSTICK)
    return mlc_systick_now_ns();
#else
    return 0;
#endif
}
