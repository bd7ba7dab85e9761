/* systick.c: 24-bit SysTick down-counter on the core clock plus a wrap count kept by its
 * interrupt, read as one 64-bit tick count.
 *
 * Why the read is done with interrupts masked and the pending bit checked: the counter can wrap
 * between reading the wrap count and reading the counter, and the interrupt that counts the wrap
 * may not have run yet. With interrupts off, a wrap that happened shows as SysTick pending
 * (ICSR.PENDSTSET); then the wrap is counted here and the counter read again, so the time never
 * goes backwards by a whole period. The counter starts lazily on the first call, so images that
 * never ask for the time never take SysTick interrupts.
 */
#include "systick.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)

#define CSR_ENABLE 1u
#define CSR_TICKINT 2u
#define CSR_CLKSOURCE 4u /* the core clock, not the optional external reference */
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)
#define RELOAD 0x00FFFFFFu
#define PERIOD ((uint64_t)RELOAD + 1u)

static volatile uint32_t wraps;
static int started;

void SysTick_Handler(void) { wraps = wraps + 1u; }

static void start(void) {
    SYST_CSR = 0;
    SYST_RVR = RELOAD;
    SYST_CVR = 0; /* any write clears the counter; it loads RELOAD on the next tick */
    SYST_CSR = CSR_ENABLE | CSR_CLKSOURCE;
    while (SYST_CVR == 0) {
        /* wait for that load, so the count starts from a full period */
    }
    SCB_ICSR = ICSR_PENDSTCLR;
    wraps = 0;
    SYST_CSR = CSR_ENABLE | CSR_TICKINT | CSR_CLKSOURCE;
    started = 1;
}

static uint64_t ticks(void) {
    uint32_t primask, count, n;
    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    __asm__ volatile("cpsid i" ::: "memory");
    n = wraps;
    count = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) { /* wrapped, interrupt not taken yet */
        n += 1u;
        count = SYST_CVR;
    }
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint64_t)n * PERIOD + (uint64_t)(RELOAD - (count & RELOAD));
}

uint64_t mlc_systick_now_ns(void) {
    uint64_t t;
    if (!started) start();
    t = ticks();
    /* Split so ticks * 1e9 cannot overflow 64 bits (it would after ~12 minutes at 25 MHz). */
    return (t / MLC_CPU_HZ) * 1000000000u + (t % MLC_CPU_HZ) * 1000000000u / MLC_CPU_HZ;
}
