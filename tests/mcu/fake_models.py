"""Hand-written stand-ins for what the C generator emits (model.h, model.c, weights.c), written
into a test's tmp_path.

Why fake models: the harness, start-up code and build files must be tested before (and apart
from) the generator, with models whose outputs are known exactly. ``scale`` is one input, one
output, a const weight table (64 KiB by default, so it shows in flash), a parallel loop, the arena,
and two deliberate failures chosen by the first input value: -1 makes mlc_run return
MLC_ERR_INPUT, -2 makes it read the address whose bits are the second input word (an unmapped
one is a bus fault on the MCU, see ``fault_input``), -3 makes it spin forever. Its factor 2 is an
initialised static, so a start-up that failed to copy .data gives wrong outputs. ``two`` has two
inputs and two outputs of different dtypes and sizes that are not multiples of 16, and calls
expf so libm is linked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODEL_H = """\
#ifndef MODEL_H
#define MODEL_H
#include "mlc_runtime.h"
#define MLC_MODEL_NUM_INPUTS {n_in}
#define MLC_MODEL_NUM_OUTPUTS {n_out}
#define MLC_MODEL_ARENA_BYTES {arena}          /* may be 0 */
#define MLC_MODEL_INPUT_BYTES {{ {in_bytes} }}        /* per input, manifest order */
#define MLC_MODEL_OUTPUT_BYTES {{ {out_bytes} }}
#endif
"""

SCALE_C = """\
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "model.h"

#define N {n}
#define W {w}
extern const float mlc_weights[W];

/* Initialised and written, so it lives in .data: wrong if start-up did not copy .data. */
static volatile float factor = 2.0f;

typedef struct {{ const float *in; float *out; float factor; }} job_t;

static void body(void *ctx, int64_t i) {{
    job_t *job = (job_t *)ctx;
    job->out[i] = job->in[i] * job->factor + mlc_weights[i % W];
}}

size_t mlc_arena_bytes(void) {{ return MLC_MODEL_ARENA_BYTES; }}

int mlc_run(const void *const *inputs, void *const *outputs, void *arena) {{
    job_t job;
    float first;
    if (inputs == NULL || outputs == NULL || arena == NULL) return MLC_ERR_ARGUMENT;
    if (((uintptr_t)arena % MLC_ARENA_ALIGN) != 0) return MLC_ERR_ARGUMENT;
    memcpy(arena, inputs[0], N * sizeof(float));
    first = ((const float *)arena)[0];
    if (first == -1.0f) return MLC_ERR_INPUT;
    if (first == -3.0f) {{
        for (;;) factor = factor; /* hangs (volatile: the loop is not optimised away) */
    }}
    if (first == -2.0f) {{ /* read the address held in the second input word's bits */
        uint32_t address;
        memcpy(&address, (const float *)arena + 1, sizeof address);
        ((float *)outputs[0])[0] = (float)*(volatile const uint32_t *)(uintptr_t)address;
    }}
    job.in = (const float *)arena;
    job.out = (float *)outputs[0];
    job.factor = factor;
    factor = job.factor;
    mlc_parallel_for(N, body, &job);
    return MLC_OK;
}}
"""

TWO_C = """\
#include <math.h>
#include <stdint.h>
#include "model.h"

size_t mlc_arena_bytes(void) { return 0; }

int mlc_run(const void *const *inputs, void *const *outputs, void *arena) {
    const float *a = (const float *)inputs[0];
    const uint8_t *b = (const uint8_t *)inputs[1];
    float *ea = (float *)outputs[0];
    int32_t *b1 = (int32_t *)outputs[1];
    int i;
    (void)arena;
    if (((uintptr_t)a % sizeof(float)) != 0 || ((uintptr_t)b1 % sizeof(int32_t)) != 0)
        return MLC_ERR_ARGUMENT;
    for (i = 0; i < 3; ++i) ea[i] = expf(a[i]);
    for (i = 0; i < 5; ++i) b1[i] = (int32_t)b[i] * 1000 + 1;
    return MLC_OK;
}
"""

# Unmapped on QEMU 7.2's mps2-an386, mps2-an500 and mps2-an505 (a read raises BusFault); the
# micro:bit maps it, but not 0x30000000 (which the AN505 does map).
BAD_ADDRESS = 0x48000000
BAD_ADDRESS_MICROBIT = 0x30000000


def weights(w: int) -> np.ndarray:
    """The scale model's weight table: exactly representable values so results compare exactly."""
    return (np.arange(w, dtype=np.float32) * 0.5) % 1024


def write_weights_c(path: Path, w: int) -> None:
    values = ",".join(f"{v:.1f}f" for v in weights(w))
    path.write_text(f"#include \"model.h\"\nconst float mlc_weights[{w}] = {{{values}}};\n")


def write_scale(folder: Path, n: int = 256, w: int = 16384) -> Path:
    """The scale model in folder (created): out = in * 2 + weights[i % w], float32[n]."""
    folder.mkdir(parents=True, exist_ok=True)
    nbytes = 4 * n
    (folder / "model.h").write_text(MODEL_H.format(n_in=1, n_out=1, arena=max(nbytes, 64),
                                                   in_bytes=nbytes, out_bytes=nbytes))
    (folder / "model.c").write_text(SCALE_C.format(n=n, w=w))
    write_weights_c(folder / "weights.c", w)
    return folder


def scale_expected(x: np.ndarray, w: int = 16384) -> np.ndarray:
    idx = np.arange(x.size) % w
    return (x.astype(np.float32) * np.float32(2) + weights(w)[idx]).astype(np.float32)


def write_two(folder: Path) -> Path:
    """Inputs float32[3], uint8[5]; outputs expf(a) float32[3], b * 1000 + 1 int32[5]."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.h").write_text(MODEL_H.format(n_in=2, n_out=2, arena=0,
                                                   in_bytes="12, 5", out_bytes="12, 20"))
    (folder / "model.c").write_text(TWO_C)
    (folder / "weights.c").write_text("#include \"model.h\"\nconst int mlc_unused_weight = 1;\n")
    return folder


def fault_input(n: int = 256, address: int = BAD_ADDRESS) -> bytes:
    """An input that makes the scale model read ``address``."""
    words = np.zeros(n, dtype=np.uint32)
    words[0] = np.float32(-2).view(np.uint32)
    words[1] = address
    return words.tobytes()


def first_value_input(value: float, n: int = 256) -> bytes:
    """An input whose first element is ``value`` (-1: status error, -3: hang)."""
    x = np.zeros(n, dtype=np.float32)
    x[0] = value
    return x.tobytes()
