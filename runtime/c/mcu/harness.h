/* harness.h: the exit codes of the run harness (harness.c, startup_cortexm.c), one table for C.
 *
 * Why fixed numbers: the harness's exit code is all a caller sees when the console is lost, and
 * mlc.runtime.mcu maps them back to errors, so they are part of the protocol. Codes 1..63 are
 * mlc_run's own status (see mlc_runtime.h); harness failures start at 64 so the two never clash.
 */
#ifndef MLC_HARNESS_H
#define MLC_HARNESS_H

#define MLC_EXIT_OK 0
#define MLC_EXIT_STATUS_MAX 63  /* mlc_run returned this (clamped to 1..63) */
#define MLC_EXIT_USAGE 64       /* wrong arguments */
#define MLC_EXIT_INPUT_OPEN 65  /* the input file cannot be opened or read */
#define MLC_EXIT_INPUT_SIZE 66  /* the input file does not hold exactly the model's inputs */
#define MLC_EXIT_OUTPUT 67      /* the output file cannot be written */
#define MLC_EXIT_ARENA 68       /* mlc_arena_bytes() exceeds MLC_MODEL_ARENA_BYTES, or io pool */
#define MLC_EXIT_FAULT 70       /* a CPU fault (startup_cortexm.c) */

#endif /* MLC_HARNESS_H */
