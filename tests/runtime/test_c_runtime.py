"""The C runtime on its own: the thread pool driven from C through a tiny test library, and the
build helper's errors. The pool is what every compiled kernel's parallel loops run on, so
"every index exactly once" is checked at the edges (n below, at and far above the pool size),
nested, repeated, from two submitting threads, and across resizes."""

from __future__ import annotations

import ctypes
import shutil
import stat

import numpy as np
import pytest

from mlc.backends.toolchain.abi import ABI_VERSION
from mlc.backends.toolchain.cc import BuildError, build_shared_library, find_c_compiler
from mlc.backends.toolchain.tools import ToolchainError
from tests.skips import skip_outside_ci

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]

POOL_TEST_C = r"""
#include "mlc_runtime.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct { int32_t *counts; int64_t inner; int64_t outer; } cover_t;

static void count_one(void *p, int64_t i) {
    __atomic_fetch_add(&((cover_t *)p)->counts[i], 1, __ATOMIC_RELAXED);
}

MLC_EXPORT void tp_cover(int64_t n, int32_t *counts) {
    cover_t c;
    c.counts = counts;
    mlc_parallel_for(n, count_one, &c);
}

MLC_EXPORT void tp_repeat(int64_t n, int reps, int32_t *counts) {
    int r;
    for (r = 0; r < reps; ++r) tp_cover(n, counts);
}

static void count_inner(void *p, int64_t i) {
    cover_t *c = (cover_t *)p;
    __atomic_fetch_add(&c->counts[c->outer * c->inner + i], 1, __ATOMIC_RELAXED);
}

static void run_outer(void *p, int64_t o) {
    cover_t c = *(cover_t *)p;
    c.outer = o;
    mlc_parallel_for(c.inner, count_inner, &c);
}

MLC_EXPORT void tp_nested(int64_t outer, int64_t inner, int32_t *counts) {
    cover_t c;
    c.counts = counts;
    c.inner = inner;
    c.outer = 0;
    mlc_parallel_for(outer, run_outer, &c);
}

typedef struct {
    pthread_t *ids;
    pthread_mutex_t lock;
    pthread_t *arrived; /* the distinct threads that have started a task */
    int count, want;
    uint64_t deadline; /* when tasks stop waiting for more threads: a pool bug fails, not hangs */
} ids_t;

/* Blocks are claimed, not assigned: a worker the OS has not scheduled yet holds nobody up, the
 * threads that are running take its blocks. So how many threads run a job depends on timing,
 * and no fixed task length guarantees that every worker gets a block on a loaded machine. What
 * the pool does guarantee is that every woken worker joins the running job: so each task waits
 * until `want` distinct threads have started one. A waiting thread holds its block, so the
 * remaining blocks go to the threads still to come, whenever they are scheduled (within 10 s
 * of the call, which only a pool that leaves a worker asleep misses). */
static void record_thread(void *p, int64_t i) {
    ids_t *c = (ids_t *)p;
    pthread_t self = pthread_self();
    int k, known = 0, count;
    c->ids[i] = self;
    pthread_mutex_lock(&c->lock);
    for (k = 0; k < c->count; ++k) known |= pthread_equal(c->arrived[k], self);
    if (!known) c->arrived[c->count++] = self;
    pthread_mutex_unlock(&c->lock);
    for (;;) {
        pthread_mutex_lock(&c->lock);
        count = c->count;
        pthread_mutex_unlock(&c->lock);
        if (count >= c->want || mlc_now_ns() > c->deadline) break;
        sched_yield();
    }
}

/* How many different threads ran the n tasks, each waiting for `want` threads to arrive. */
MLC_EXPORT int tp_distinct_threads(int64_t n, int want) {
    ids_t c;
    int64_t i, j;
    int distinct = 0;
    c.ids = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)n);
    c.arrived = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)n);
    c.count = 0;
    c.want = want;
    c.deadline = mlc_now_ns() + 10000000000u;
    pthread_mutex_init(&c.lock, NULL);
    mlc_parallel_for(n, record_thread, &c);
    pthread_mutex_destroy(&c.lock);
    free(c.arrived);
    for (i = 0; i < n; ++i) {
        int seen = 0;
        for (j = 0; j < i; ++j) seen |= pthread_equal(c.ids[i], c.ids[j]);
        distinct += !seen;
    }
    free(c.ids);
    return distinct;
}

static void resize_inside(void *p, int64_t i) {
    if (i == 0) *(int *)p = mlc_num_threads(7);
}

/* What mlc_num_threads(7) answers when called from inside a task. */
MLC_EXPORT int tp_resize_inside(int64_t n) {
    int seen = -1;
    mlc_parallel_for(n, resize_inside, &seen);
    return seen;
}

typedef struct { int64_t n; int reps; int32_t *counts; } submit_t;

static void *submitter(void *p) {
    submit_t *s = (submit_t *)p;
    tp_repeat(s->n, s->reps, s->counts);
    return NULL;
}

/* Two threads submit jobs at the same time; each has its own counts. */
MLC_EXPORT int tp_two_submitters(int64_t n, int reps, int32_t *a, int32_t *b) {
    pthread_t t;
    submit_t sa, sb;
    sa.n = sb.n = n;
    sa.reps = sb.reps = reps;
    sa.counts = a;
    sb.counts = b;
    if (pthread_create(&t, NULL, submitter, &sa) != 0) return -1;
    submitter(&sb);
    pthread_join(t, NULL);
    return 0;
}
"""


def require_cc() -> str:
    try:
        return find_c_compiler()
    except ToolchainError as exc:
        skip_outside_ci(f"no C compiler: {exc.one_line()}")


def build_pool_lib(folder) -> ctypes.CDLL:
    require_cc()
    source = folder / "pool_test.c"
    source.write_text(POOL_TEST_C)
    lib = ctypes.CDLL(str(build_shared_library([source], folder / "pool_test.so", flags=STRICT)))
    counts = ctypes.POINTER(ctypes.c_int32)
    lib.mlc_num_threads.argtypes = [ctypes.c_int]
    lib.tp_cover.argtypes = [ctypes.c_int64, counts]
    lib.tp_repeat.argtypes = [ctypes.c_int64, ctypes.c_int, counts]
    lib.tp_nested.argtypes = [ctypes.c_int64, ctypes.c_int64, counts]
    lib.tp_distinct_threads.argtypes = [ctypes.c_int64, ctypes.c_int]
    lib.tp_resize_inside.argtypes = [ctypes.c_int64]
    lib.tp_two_submitters.argtypes = [ctypes.c_int64, ctypes.c_int, counts, counts]
    lib.mlc_now_ns.restype = ctypes.c_uint64
    return lib


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return build_pool_lib(tmp_path_factory.mktemp("pool"))


def ptr(array: np.ndarray):
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def cover(lib, n: int) -> np.ndarray:
    counts = np.zeros(max(n, 1), np.int32)
    lib.tp_cover(n, ptr(counts))
    return counts[:n]


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 1000, 100_003])
def test_parallel_for_covers_every_index_exactly_once(pool, threads, n):
    assert pool.mlc_num_threads(threads) == threads
    assert (cover(pool, n) == 1).all()


@pytest.mark.parametrize("threads, n, expected", [(4, 2, 2), (4, 4, 4), (3, 12, 3), (1, 5, 1)])
def test_work_is_spread_over_min_of_n_and_pool_size_threads(pool, threads, n, expected):
    """Every woken worker joins the job: with each task waiting until ``expected`` threads have
    started one (tp_distinct_threads), exactly min(n, pool size) threads run the n tasks. Not
    how many threads run tasks that finish at once: blocks are claimed by whoever is free, so
    on a loaded machine a worker scheduled late rightly finds its share taken."""
    pool.mlc_num_threads(threads)
    assert pool.tp_distinct_threads(n, expected) == expected


def test_repeated_calls_reuse_the_pool(pool):
    pool.mlc_num_threads(3)
    counts = np.zeros(17, np.int32)
    pool.tp_repeat(17, 500, ptr(counts))
    assert (counts == 500).all()


@pytest.mark.parametrize("outer, inner", [(2, 3), (4, 4), (9, 100)])
def test_nested_calls_run_serially_inside_a_task(pool, outer, inner):
    pool.mlc_num_threads(2)
    counts = np.zeros(outer * inner, np.int32)
    pool.tp_nested(outer, inner, ptr(counts))
    assert (counts == 1).all()


def test_two_threads_submitting_at_once_are_serialised(pool):
    pool.mlc_num_threads(2)
    a, b = np.zeros(33, np.int32), np.zeros(33, np.int32)
    assert pool.tp_two_submitters(33, 200, ptr(a), ptr(b)) == 0
    assert (a == 200).all() and (b == 200).all()


def test_resizing_the_pool(pool):
    for threads in (1, 4, 2, 3, 3, 1, 2):
        assert pool.mlc_num_threads(threads) == threads
        assert pool.mlc_num_threads(0) == threads  # 0 and negatives only ask
        assert pool.mlc_num_threads(-1) == threads
        assert (cover(pool, 50) == 1).all()
        assert pool.tp_distinct_threads(2 * threads, threads) == threads


def test_resizing_from_inside_a_task_is_refused(pool):
    pool.mlc_num_threads(2)
    assert pool.tp_resize_inside(4) == 2
    assert pool.mlc_num_threads(0) == 2


def test_default_size_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLC_NUM_THREADS", "3")
    lib = build_pool_lib(tmp_path)  # a fresh library: its pool starts at the first call
    assert lib.mlc_num_threads(0) == 3
    assert lib.tp_distinct_threads(6, 3) == 3


def test_abi_services(pool):
    pool.mlc_status_string.restype = ctypes.c_char_p
    assert pool.mlc_abi_version() == ABI_VERSION
    assert pool.mlc_status_string(0) == b"ok"
    assert b"unknown" in pool.mlc_status_string(99)
    first = pool.mlc_now_ns()
    assert 0 < first <= pool.mlc_now_ns()


def test_runtime_builds_serially_for_bare_metal(tmp_path):
    """MLC_NO_THREADS gives the same API without pthreads (the Cortex-M build)."""
    require_cc()
    source = tmp_path / "pool_test.c"
    source.write_text(POOL_TEST_C)
    lib = ctypes.CDLL(str(build_shared_library(
        [source], tmp_path / "serial.so", flags=STRICT + ["-DMLC_NO_THREADS"])))
    assert lib.mlc_num_threads(4) == 1
    counts = np.zeros(10, np.int32)
    lib.tp_cover(ctypes.c_int64(10), ptr(counts))
    assert (counts == 1).all()


# -- the build helper ------------------------------------------------------------------------------

def test_missing_compiler_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError) as info:
        find_c_compiler()
    assert "apt-get install gcc" in info.value.one_line()
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(ToolchainError, match="no-such-compiler"):
        build_shared_library([], tmp_path / "x.so")


def test_compile_error_is_one_line_and_keeps_the_old_library(tmp_path):
    require_cc()
    good = tmp_path / "good.c"
    good.write_text('__attribute__((visibility("default"))) int answer(void) { return 42; }\n')
    out = build_shared_library([good], tmp_path / "lib.so", with_runtime=False)
    bad = tmp_path / "bad.c"
    bad.write_text("int answer(void) { return 42 }\n")
    with pytest.raises(BuildError) as info:
        build_shared_library([bad], out, with_runtime=False)
    line = info.value.one_line()
    assert "\n" not in line and "bad.c" in line and "error" in line
    assert "expected" in info.value.log
    assert ctypes.CDLL(str(out)).answer() == 42  # the previous build is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.c", "good.c", "lib.so"]


def test_broken_linker_names_binutils(tmp_path):
    fake = tmp_path / "fakecc"
    fake.write_text("#!/bin/sh\necho \"collect2: fatal error: cannot find 'ld'\" >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    source = tmp_path / "a.c"
    source.write_text("int f(void) { return 1; }\n")
    with pytest.raises(ToolchainError) as info:
        build_shared_library([source], tmp_path / "a.so", cc=str(fake))
    assert "binutils" in info.value.one_line()
    assert not (tmp_path / "a.so").exists()


def test_missing_source_is_a_build_error(tmp_path):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        skip_outside_ci("no C compiler")
    with pytest.raises(BuildError, match="does not exist"):
        build_shared_library([tmp_path / "nope.c"], tmp_path / "x.so")
