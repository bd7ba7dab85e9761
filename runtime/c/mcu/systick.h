/* systick.h: a monotonic nanosecond clock for bare-metal Cortex-M, behind mlc_now_ns().
 *
 * Why SysTick: every Cortex-M core has it (ARMv6-M included), at a fixed address, counting the
 * core clock, so the harness can time mlc_run on any board without a vendor timer driver.
 * MLC_CPU_HZ must be the core clock (25 MHz on QEMU's MPS2 AN385/AN386/AN500, 20 MHz on AN505;
 * the build sets it per board). Under QEMU without -icount the count follows the host's clock,
 * so it measures emulation time, not what the real chip would take.
 */
#ifndef MLC_SYSTICK_H
#define MLC_SYSTICK_H

#include <stdint.h>

#ifndef MLC_CPU_HZ
#define MLC_CPU_HZ 25000000u
#endif

/* Nanoseconds since the first call (which starts the counter). */
uint64_t mlc_systick_now_ns(void);

/* The SysTick exception handler (counts wraps of the 24-bit counter); in the vector table. */
void SysTick_Handler(void);

#endif /* MLC_SYSTICK_H */
