"""The fp32 peak of one core of this machine, measured rather than looked up.

A benchmark's GFLOP/s only means something next to what the core can do. Spec sheets give
nominal clocks and pipe counts that a VM, AVX-512 frequency licences or a double-pumped unit
(AMD Zen 4) change, so the peak is timed: a JIT-compiled loop of independent vector FMA chains,
enough of them to cover the FMA latency on every port, at the widest vector the host has. What
it reaches is the ceiling a GEMM micro-kernel could reach on this core. Measured once per process.
"""

from __future__ import annotations

import ctypes
import functools
import time

_UNROLL = 4  # FMA steps per chain per loop iteration: keeps the loop overhead negligible
_TARGET_S = 0.01  # seconds per timed call: short, so some calls escape preemption on a busy host


def vector_shape(isa: str) -> tuple[int, int]:
    """``(lanes, chains)`` for the host's vector ISA (``HostTarget.isa``): <16 x float> × 16 on
    AVX-512 (32 registers), <8 x float> × 12 on AVX2+FMA (16 registers; 2 FMA ports × 4-5 cycles
    latency needs ≥ 10 in flight), <4 x float> × 12 otherwise."""
    return {"avx512": (16, 16), "avx2": (8, 12)}.get(isa, (4, 12))


def peak_kernel_ir(lanes: int, chains: int, unroll: int = _UNROLL) -> str:
    """LLVM IR of ``void peak(i64 n, float* xs, float* out)``: ``chains`` accumulators, each
    updated ``acc = fma(acc, x, y)`` ``unroll × n`` times, their lanes summed into ``*out`` so
    nothing is dead. ``x`` and ``y`` are loaded at run time so nothing folds; with x just below 1
    the accumulators converge to y / (1 - x) and never reach denormals or infinity."""
    vec = f"<{lanes} x float>"
    fma = f"@llvm.fma.v{lanes}f32"
    lines = [
        f"declare {vec} {fma}({vec}, {vec}, {vec})",
        f"declare float @llvm.vector.reduce.fadd.v{lanes}f32(float, {vec})",
        "define void @peak(i64 %n, ptr %xs, ptr %out) #0 {",
        "entry:",
        "  %xv = load float, ptr %xs, align 4",
        "  %yp = getelementptr float, ptr %xs, i64 1",
        "  %yv = load float, ptr %yp, align 4",
        f"  %x0 = insertelement {vec} poison, float %xv, i64 0",
        f"  %x = shufflevector {vec} %x0, {vec} poison, <{lanes} x i32> zeroinitializer",
        f"  %y0 = insertelement {vec} poison, float %yv, i64 0",
        f"  %y = shufflevector {vec} %y0, {vec} poison, <{lanes} x i32> zeroinitializer",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]",
    ]
    for c in range(chains):
        lines.append(f"  %a{c}.0 = phi {vec} [ %y, %entry ], [ %a{c}.{unroll}, %loop ]")
    for u in range(unroll):  # interleave the chains: step u of every chain, then step u + 1
        for c in range(chains):
            lines.append(f"  %a{c}.{u + 1} = call {vec} {fma}({vec} %a{c}.{u}, {vec} %x, "
                         f"{vec} %y)")
    lines += [
        "  %i.next = add i64 %i, 1",
        "  %more = icmp ult i64 %i.next, %n",
        "  br i1 %more, label %loop, label %done",
        "done:",
    ]
    total = f"%a0.{unroll}"
    for c in range(1, chains):
        lines.append(f"  %s{c} = fadd {vec} {total}, %a{c}.{unroll}")
        total = f"%s{c}"
    lines += [
        f"  %sum = call float @llvm.vector.reduce.fadd.v{lanes}f32(float 0.0, {vec} {total})",
        "  store float %sum, ptr %out, align 4",
        "  ret void",
        "}",
        # Without this LLVM may split 512-bit vectors in two on CPUs that prefer 256-bit ones.
        f'attributes #0 = {{ "min-legal-vector-width"="{lanes * 32}" nounwind }}',
    ]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def measure_peak_gflops(repeat: int = 30) -> float:
    """The best of ``repeat`` timed calls of the FMA loop, in GFLOP/s (one FMA = 2 flops), on the
    calling thread. The best, not the median: other processes only ever slow the loop down, so
    the fastest call is the one closest to what the core does alone. Cached per process: the
    answer does not change and measuring costs ~0.4 s."""
    import llvmlite.binding as llvm

    from mlc.backends.llvm.host import target_machine
    from mlc.backends.toolchain.host import host_target

    host = host_target()
    machine = target_machine(host)
    lanes, chains = vector_shape(host.isa)
    module = llvm.parse_assembly(peak_kernel_ir(lanes, chains))
    module.triple = machine.triple
    module.verify()
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    peak = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.POINTER(ctypes.c_float),
                            ctypes.POINTER(ctypes.c_float))(engine.get_function_address("peak"))
    xs = (ctypes.c_float * 2)(0.999, 1e-3)
    out = ctypes.c_float()
    flops_per_iter = 2 * lanes * chains * _UNROLL

    def seconds(n: int) -> float:
        start = time.perf_counter()
        peak(n, xs, ctypes.byref(out))
        return time.perf_counter() - start

    n = 1 << 12
    while seconds(n) < _TARGET_S / 4:  # calibrate: one call long enough that timer noise is small
        n *= 2
    n = max(1, int(n * _TARGET_S / max(seconds(n), 1e-9)))
    best = min(seconds(n) for _ in range(max(1, repeat)))
    return flops_per_iter * n / best / 1e9
