/* harness.c: run a compiled model on its inputs from a file, time it, write its outputs to a file.
 *
 * Protocol (the same on a microcontroller and on the host; mlc.runtime.mcu calls it):
 *   harness IN OUT WARMUP REPEAT
 *   IN  = every input's raw bytes, concatenated in manifest order (exactly the sizes in
 *         MLC_MODEL_INPUT_BYTES; any other size is refused with MLC_EXIT_INPUT_SIZE);
 *   runs mlc_run WARMUP times untimed, then REPEAT times each timed with mlc_now_ns() and
 *   printed as a line `mlc-time-ns <n>`; OUT = every output's bytes concatenated;
 *   on failure a line `mlc-error <message>`; always a last line `mlc-status <code>`, where code
 *   is also the exit code: 0, mlc_run's status (1..63) or a harness code from harness.h.
 *
 * Why everything is static: a microcontroller has no heap worth the name and the linker must be
 * able to say up front whether a model fits, so inputs, outputs and the MLC_ARENA_ALIGN-aligned
 * arena are fixed-size arrays sized from model.h. The io pools' totals cannot be summed from
 * model.h's brace lists by the preprocessor, so the build passes them (MLC_HARNESS_INPUT_POOL,
 * MLC_HARNESS_OUTPUT_POOL: the tensors' sizes, each rounded up to MLC_IO_ALIGN) and the harness
 * re-checks them at start. A model with no inputs must still write its lists as `{ 0 }`.
 */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "mlc_io.h"
#include "mlc_runtime.h"
#include "model.h"

#ifndef MLC_HARNESS_INPUT_POOL
#error "define MLC_HARNESS_INPUT_POOL: the inputs' byte sizes, each rounded up to 16, summed"
#endif
#ifndef MLC_HARNESS_OUTPUT_POOL
#error "define MLC_HARNESS_OUTPUT_POOL: the outputs' byte sizes, each rounded up to 16, summed"
#endif

#define MLC_IO_ALIGN 16 /* each tensor's start: enough for any element type */
#define AT_LEAST_ONE(n) ((n) > 0 ? (n) : 1)

static const size_t input_bytes[AT_LEAST_ONE(MLC_MODEL_NUM_INPUTS)] = MLC_MODEL_INPUT_BYTES;
static const size_t output_bytes[AT_LEAST_ONE(MLC_MODEL_NUM_OUTPUTS)] = MLC_MODEL_OUTPUT_BYTES;

static unsigned char input_pool[AT_LEAST_ONE(MLC_HARNESS_INPUT_POOL)]
    __attribute__((aligned(MLC_IO_ALIGN)));
static unsigned char output_pool[AT_LEAST_ONE(MLC_HARNESS_OUTPUT_POOL)]
    __attribute__((aligned(MLC_IO_ALIGN)));
static unsigned char arena[AT_LEAST_ONE(MLC_MODEL_ARENA_BYTES)]
    __attribute__((aligned(MLC_ARENA_ALIGN)));

static void *inputs[AT_LEAST_ONE(MLC_MODEL_NUM_INPUTS)];
static void *outputs[AT_LEAST_ONE(MLC_MODEL_NUM_OUTPUTS)];

/* ---- one console line at a time, without printf ---- */

static char line[256];
static size_t line_used;

static void say(const char *text) {
    while (*text != '\0' && line_used + 2 < sizeof line) line[line_used++] = *text++;
}

static void say_u64(uint64_t value) {
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0);
    while (n > 0 && line_used + 2 < sizeof line) line[line_used++] = digits[--n];
}

static void say_int(long value) {
    if (value < 0) {
        say("-");
        say_u64((uint64_t)0 - (uint64_t)value);
    } else {
        say_u64((uint64_t)value);
    }
}

static void end_line(void) {
    line[line_used++] = '\n';
    line[line_used] = '\0';
    mlc_io_print(line);
    line_used = 0;
}

/* Print the status line and return code, to be returned from main. */
static int finish(int code) {
    say("mlc-status ");
    say_int(code);
    end_line();
    return code;
}

/* Print `mlc-error <message>` (the caller may add to the line before end_line). */
static void error_start(const char *message) {
    say("mlc-error ");
    say(message);
}

/* ---- setup ---- */

static int parse_count(const char *text, unsigned long *value) {
    unsigned long v = 0;
    if (text == NULL || *text == '\0') return 0;
    for (; *text != '\0'; ++text) {
        if (*text < '0' || *text > '9' || v > 100000000ul) return 0;
        v = v * 10u + (unsigned long)(*text - '0');
    }
    *value = v;
    return 1;
}

/* Give each tensor its own MLC_IO_ALIGN-aligned slot; 0 if the pool is too small. */
static int lay_out(void **slots, const size_t *sizes, int count, unsigned char *pool,
                   size_t pool_bytes) {
    size_t offset = 0;
    int k;
    for (k = 0; k < count; ++k) {
        slots[k] = pool + offset;
        offset += (sizes[k] + MLC_IO_ALIGN - 1) / MLC_IO_ALIGN * MLC_IO_ALIGN;
    }
    return offset <= pool_bytes;
}

static int run_failed(int status) {
    int code = status >= 1 && status <= MLC_EXIT_STATUS_MAX ? status : MLC_EXIT_STATUS_MAX;
    error_start("mlc_run returned ");
    say_int(status);
    say(": ");
    say(mlc_status_string(status));
    end_line();
    return finish(code);
}

static int read_inputs(const char *path) {
    long file_bytes;
    size_t total = 0;
    int k, result;
    for (k = 0; k < MLC_MODEL_NUM_INPUTS; ++k) total += input_bytes[k];
    result = mlc_io_read_parts(path, inputs, input_bytes, MLC_MODEL_NUM_INPUTS, &file_bytes);
    if (result == MLC_IO_OK) return MLC_EXIT_OK;
    if (result == MLC_IO_WRONG_SIZE) {
        error_start("input file ");
        say(path);
        say(" has ");
        say_int(file_bytes);
        say(" bytes, the model needs ");
        say_u64(total);
        say(" (its inputs concatenated in manifest order)");
        end_line();
        return MLC_EXIT_INPUT_SIZE;
    }
    error_start("cannot read input file ");
    say(path);
    end_line();
    return MLC_EXIT_INPUT_OPEN;
}

int main(int argc, char **argv) {
    char **args;
    unsigned long warmup, repeat, i;
    int status, code;
    int count = mlc_io_args(argc, argv, &args);

    if (count != 5 || !parse_count(args[3], &warmup) || !parse_count(args[4], &repeat) ||
        warmup + repeat == 0) {
        error_start("usage: harness IN OUT WARMUP REPEAT (WARMUP + REPEAT >= 1)");
        end_line();
        return finish(MLC_EXIT_USAGE);
    }
    if (!lay_out(inputs, input_bytes, MLC_MODEL_NUM_INPUTS, input_pool, sizeof input_pool) ||
        !lay_out(outputs, output_bytes, MLC_MODEL_NUM_OUTPUTS, output_pool, sizeof output_pool)) {
        error_start("MLC_HARNESS_INPUT_POOL/OUTPUT_POOL are smaller than model.h's tensors");
        end_line();
        return finish(MLC_EXIT_ARENA);
    }
    if (mlc_arena_bytes() > (size_t)MLC_MODEL_ARENA_BYTES) {
        error_start("mlc_arena_bytes() = ");
        say_u64(mlc_arena_bytes());
        say(" exceeds MLC_MODEL_ARENA_BYTES = ");
        say_u64((uint64_t)MLC_MODEL_ARENA_BYTES);
        end_line();
        return finish(MLC_EXIT_ARENA);
    }
    code = read_inputs(args[1]);
    if (code != MLC_EXIT_OK) return finish(code);

    for (i = 0; i < warmup; ++i) {
        status = mlc_run((const void *const *)inputs, outputs, arena);
        if (status != MLC_OK) return run_failed(status);
    }
    for (i = 0; i < repeat; ++i) {
        uint64_t start = mlc_now_ns(), stop;
        status = mlc_run((const void *const *)inputs, outputs, arena);
        stop = mlc_now_ns();
        if (status != MLC_OK) return run_failed(status);
        say("mlc-time-ns ");
        say_u64(stop - start);
        end_line();
    }

    if (mlc_io_write_parts(args[2], (const void *const *)outputs, output_bytes,
                           MLC_MODEL_NUM_OUTPUTS) != MLC_IO_OK) {
        error_start("cannot write output file ");
        say(args[2]);
        end_line();
        return finish(MLC_EXIT_OUTPUT);
    }
    return finish(MLC_EXIT_OK);
}
