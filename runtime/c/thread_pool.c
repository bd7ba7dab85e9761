/* thread_pool.c: a small fixed pool of pthreads behind mlc_parallel_for and mlc_num_threads.
 *
 * Why this shape: kernels parallelise one outer loop at a time, so the pool runs one job at a
 * time. A job is cut into a few contiguous blocks per thread, and threads (the caller included)
 * claim blocks from an atomic counter: a block is a long contiguous run that stays in one core's
 * cache, and a thread the OS has not scheduled yet never holds up the others, whoever is free
 * runs the rest. A model runs dozens of parallel loops back to back, microseconds apart, and
 * waking a sleeping thread costs tens of microseconds; so idle workers first spin briefly
 * (MLC_SPIN rounds of a pause instruction) watching for the next job and only then sleep on a
 * condition variable, as OpenMP runtimes and onnxruntime's pool do; a loaded model costs no CPU
 * between runs. Define MLC_NO_THREADS (bare metal, Cortex-M) for a serial build with the same API.
 */

#if !defined(_GNU_SOURCE) && !defined(MLC_NO_THREADS)
#define _GNU_SOURCE /* sysconf(_SC_NPROCESSORS_ONLN) */
#endif

#include "mlc_runtime.h"

#ifdef MLC_NO_THREADS

MLC_EXPORT int mlc_num_threads(int n) {
    (void)n;
    return 1;
}

void mlc_parallel_for(int64_t n, mlc_task_fn fn, void *ctx) {
    int64_t i;
    for (i = 0; i < n; ++i) fn(ctx, i);
}

#else

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MLC_MAX_THREADS 1024
#ifndef MLC_SPIN
#define MLC_SPIN 4000
#endif
/* Blocks per thread a job is cut into: enough that a late thread's share is picked up by the
 * others, few enough that each block is a long contiguous run. */
#define MLC_BLOCKS_PER_THREAD 4

#if defined(__x86_64__) || defined(__i386__)
#define MLC_PAUSE() __builtin_ia32_pause()
#else
#define MLC_PAUSE() ((void)0)
#endif

/* Shared counters read outside the lock while spinning; written with atomics. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define MLC_THREAD_LOCAL _Thread_local
#else
#define MLC_THREAD_LOCAL __thread
#endif

/* One mlc_parallel_for call. It lives on the caller's stack; workers attach to it (refs) under
 * the pool lock, and the caller returns only when every block is done and no worker is attached. */
typedef struct {
    mlc_task_fn fn;
    void *ctx;
    int64_t n;
    int64_t blocks; /* contiguous chunks of [0, n), claimed in order by whoever is free */
    int64_t next;   /* the next unclaimed block (atomic) */
    int64_t done;   /* blocks finished (atomic) */
    int refs;       /* workers attached (atomic) */
} job_t;

typedef struct {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* workers wait here for a new generation (or stop) */
    pthread_cond_t done;  /* the caller waits here for its job to finish */
    pthread_t *workers;   /* size - 1 of them */
    int size;             /* threads in use, caller included; 0 = not started yet */
    int stop;
    uint64_t generation;  /* bumped once per job */
    uint64_t base;        /* generation when the current workers were created */
    job_t *job;           /* the job workers may attach to; NULL between jobs */
} pool_t;

static pool_t P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                   NULL, 0, 0, 0, 0, NULL};
/* One job (or resize) at a time; held for a whole mlc_parallel_for. */
static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set while this thread runs a task: nested calls then run serially instead of deadlocking. */
static MLC_THREAD_LOCAL int in_task = 0;

static void run_range(mlc_task_fn fn, void *ctx, int64_t begin, int64_t end) {
    int64_t i;
    for (i = begin; i < end; ++i) fn(ctx, i);
}

/* Claim and run blocks of job until none is left. */
static void work_on(job_t *job) {
    for (;;) {
        int64_t b = __atomic_fetch_add(&job->next, 1, __ATOMIC_ACQ_REL);
        if (b >= job->blocks) return;
        run_range(job->fn, job->ctx, job->n * b / job->blocks, job->n * (b + 1) / job->blocks);
        __atomic_add_fetch(&job->done, 1, __ATOMIC_ACQ_REL);
    }
}

/* Spin until the generation moves past seen (or stop is set), at most MLC_SPIN rounds. */
static void spin_for_job(uint64_t seen) {
    int round;
    for (round = 0; round < MLC_SPIN; ++round) {
        if (LOAD(P.generation) != seen || LOAD(P.stop)) return;
        MLC_PAUSE();
    }
}

static void *worker_main(void *arg) {
    uint64_t seen;
    (void)arg;
    in_task = 1; /* a worker only ever runs tasks */
    pthread_mutex_lock(&P.lock);
    seen = P.base;
    for (;;) {
        job_t *job;
        if (!P.stop && P.generation == seen) {
            pthread_mutex_unlock(&P.lock);
            spin_for_job(seen);
            pthread_mutex_lock(&P.lock);
        }
        while (!P.stop && P.generation == seen) pthread_cond_wait(&P.wake, &P.lock);
        if (P.stop) break;
        seen = P.generation;
        job = P.job;
        if (job == NULL) continue; /* that job is over already */
        __atomic_add_fetch(&job->refs, 1, __ATOMIC_ACQ_REL);
        pthread_mutex_unlock(&P.lock);
        work_on(job);
        pthread_mutex_lock(&P.lock);
        if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0 &&
            LOAD(job->done) == job->blocks)
            pthread_cond_signal(&P.done);
    }
    pthread_mutex_unlock(&P.lock);
    return NULL;
}

/* Join all workers; submit_lock held, no job running. */
static void stop_workers(void) {
    int k;
    if (P.size <= 1) {
        free(P.workers);
        P.workers = NULL;
        return;
    }
    pthread_mutex_lock(&P.lock);
    STORE(P.stop, 1);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    for (k = 0; k < P.size - 1; ++k) pthread_join(P.workers[k], NULL);
    free(P.workers);
    P.workers = NULL;
    pthread_mutex_lock(&P.lock);
    STORE(P.stop, 0);
    pthread_mutex_unlock(&P.lock);
}

/* Replace the workers with n - 1 new ones; submit_lock held, no job running. */
static void resize(int n) {
    int k, started = 0;
    if (n < 1) n = 1;
    if (n > MLC_MAX_THREADS) n = MLC_MAX_THREADS;
    stop_workers();
    P.base = P.generation;
    if (n > 1) {
        P.workers = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)(n - 1));
        if (P.workers != NULL) {
            for (k = 0; k < n - 1; ++k) {
                if (pthread_create(&P.workers[k], NULL, worker_main, NULL) != 0) break;
                ++started;
            }
        }
    }
    P.size = started + 1;
}

static int default_threads(void) {
    const char *env = getenv("MLC_NUM_THREADS");
    long n = env != NULL ? strtol(env, NULL, 10) : 0;
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n > MLC_MAX_THREADS ? MLC_MAX_THREADS : (int)n;
}

MLC_EXPORT int mlc_num_threads(int n) {
    int size;
    if (in_task) return P.size; /* a resize now would tear down the job we are part of */
    pthread_mutex_lock(&submit_lock);
    if (n > 0 && n != P.size) {
        resize(n);
    } else if (P.size == 0) {
        resize(default_threads());
    }
    size = P.size;
    pthread_mutex_unlock(&submit_lock);
    return size;
}

void mlc_parallel_for(int64_t n, mlc_task_fn fn, void *ctx) {
    job_t job;
    int64_t most;
    int spins;
    if (n <= 0) return;
    if (in_task || n == 1) {
        run_range(fn, ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&submit_lock);
    if (P.size == 0) resize(default_threads());
    if (P.size <= 1) {
        pthread_mutex_unlock(&submit_lock);
        in_task = 1;
        run_range(fn, ctx, 0, n);
        in_task = 0;
        return;
    }
    most = (int64_t)P.size * MLC_BLOCKS_PER_THREAD;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.blocks = n < most ? n : most;
    job.next = 0;
    job.done = 0;
    job.refs = 0;
    pthread_mutex_lock(&P.lock);
    P.job = &job;
    STORE(P.generation, P.generation + 1);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);

    in_task = 1;
    work_on(&job);
    in_task = 0;

    for (spins = 0; spins < MLC_SPIN && LOAD(job.done) < job.blocks; ++spins) MLC_PAUSE();
    pthread_mutex_lock(&P.lock);
    P.job = NULL; /* workers that wake from now on do not attach */
    while (LOAD(job.done) < job.blocks || LOAD(job.refs) > 0) pthread_cond_wait(&P.done, &P.lock);
    pthread_mutex_unlock(&P.lock);
    pthread_mutex_unlock(&submit_lock);
}

/* Join the workers when the library is unloaded (dlclose) or the process exits normally. */
__attribute__((destructor)) static void pool_shutdown(void) {
    if (in_task) return;
    pthread_mutex_lock(&submit_lock);
    stop_workers();
    P.size = 0;
    pthread_mutex_unlock(&submit_lock);
}

#endif /* MLC_NO_THREADS */
