/* mlc_runtime.h: the one C ABI every mlc shared library (llvm and c targets) exports, and the
 * runtime services (thread pool, timer) that generated kernels call.
 *
 * Why one ABI: the Python loader (runtime/loader.py), the Cortex-M harness and a user's own C
 * program all drive any compiled model through these few entry points, whichever backend made it.
 * This header is C99 (it is included by generated model.c built with -std=c99 -pedantic).
 * See docs/design/artifact.md.
 */
#ifndef MLC_RUNTIME_H
#define MLC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when an entry point changes meaning; the manifest records the version a library has.
 * 2: the model describes its inputs and outputs (mlc_io_count, mlc_io_desc). */
#define MLC_ABI_VERSION 2
/* The arena the caller passes to mlc_run is aligned to this many bytes. */
#define MLC_ARENA_ALIGN 64

/* Libraries are built with -fvisibility=hidden; only the ABI is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define MLC_EXPORT __attribute__((visibility("default")))
#else
#define MLC_EXPORT
#endif

/* mlc_run return codes. A non-zero return means no output was written. */
enum mlc_status {
    MLC_OK = 0,
    MLC_ERR_ARGUMENT = 1,  /* a null or misaligned pointer was passed */
    MLC_ERR_INPUT = 2,     /* an input value the model cannot handle (e.g. an index out of range) */
    MLC_ERR_RESOURCE = 3,  /* the runtime could not get a resource it needs */
    MLC_ERR_INTERNAL = 4   /* a bug in mlc: please report it */
};

/* ---- defined by the model (generated code) ------------------------------------------------- */

/* Bytes of scratch the caller must provide to mlc_run, MLC_ARENA_ALIGN-aligned. */
MLC_EXPORT size_t mlc_arena_bytes(void);

/* Element types of struct mlc_tensor_desc (the codes are fixed; a new type gets a new code). */
enum mlc_dtype {
    MLC_DTYPE_FLOAT32 = 1, MLC_DTYPE_FLOAT16 = 2, MLC_DTYPE_FLOAT64 = 3, MLC_DTYPE_INT8 = 4,
    MLC_DTYPE_UINT8 = 5, MLC_DTYPE_INT16 = 6, MLC_DTYPE_INT32 = 7, MLC_DTYPE_INT64 = 8,
    MLC_DTYPE_BOOL = 9
};

/* Which list mlc_io_count and mlc_io_desc describe. */
enum mlc_io_kind { MLC_IO_INPUT = 0, MLC_IO_OUTPUT = 1 };

/* One input or output as the model was compiled for it: what mlc_run reads or writes through
 * its pointer (nbytes = product of dims x element size). The loader compares it with
 * manifest.json before the first run, so an edited manifest cannot make mlc_run overrun a
 * buffer. */
typedef struct mlc_tensor_desc {
    int32_t dtype;        /* an mlc_dtype */
    int32_t rank;         /* number of dims; 0 for a scalar */
    uint64_t nbytes;      /* dense row-major byte size */
    const int64_t *dims;  /* rank sizes, outermost first; NULL when rank is 0 */
} mlc_tensor_desc;

/* The number of inputs (kind MLC_IO_INPUT) or outputs (MLC_IO_OUTPUT) of mlc_run; -1 for
 * another kind. */
MLC_EXPORT int mlc_io_count(int kind);

/* The i-th input or output (manifest order), a static descriptor; NULL when kind or i is out of
 * range. */
MLC_EXPORT const mlc_tensor_desc *mlc_io_desc(int kind, int i);

/* Run the model once. inputs/outputs: one pointer per tensor in manifest order, each a dense
 * row-major buffer of the manifest's shape and dtype (element-aligned; only the arena is promised
 * 64-byte alignment). Returns MLC_OK or an mlc_status; on error no output was written.
 * Not reentrant: concurrent calls need separate arenas and still share one thread pool. */
MLC_EXPORT int mlc_run(const void *const *inputs, void *const *outputs, void *arena);

/* ---- defined by the runtime (runtime/c, linked into every library) ------------------------- */

/* MLC_ABI_VERSION of the runtime this library was linked with. */
MLC_EXPORT int mlc_abi_version(void);

/* Set the thread pool size to n (> 0; the calling thread counts as one) and return the size in
 * use, which is smaller if threads could not be created. n <= 0 only queries. The default is
 * $MLC_NUM_THREADS, else the number of online CPUs. Called from inside a parallel task it only
 * queries. */
MLC_EXPORT int mlc_num_threads(int n);

/* A one-line English description of an mlc_status code (never NULL). */
MLC_EXPORT const char *mlc_status_string(int code);

/* Monotonic time in nanoseconds: the OS clock on a host, SysTick on a Cortex-M image built with
 * MLC_HAVE_SYSTICK (runtime/c/mcu/systick.c), else 0. */
MLC_EXPORT uint64_t mlc_now_ns(void);

/* The body of a parallel loop: called once per index i in [0, n). */
typedef void (*mlc_task_fn)(void *ctx, int64_t i);

/* Call fn(ctx, i) exactly once for every i in [0, n), spread over the pool in contiguous blocks
 * that free threads claim in order (the caller works too); returns when all calls have returned.
 * Which thread runs which i is not fixed: iterations must be independent. Calls made from inside
 * a task run serially on the calling thread, so nesting is safe. Calls from several threads at
 * once are serialised. */
void mlc_parallel_for(int64_t n, mlc_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MLC_RUNTIME_H */
