/* startup_cortexm.c: vector table, reset and fault handlers for the semihosted Cortex-M harness.
 *
 * Why in C and this small: the only code that must run before main is copying .data out of flash,
 * zeroing .bss and turning the FPU on (a hard-float image faults on its first float instruction
 * otherwise), and each of those is a loop or a register write. No C library start-up runs
 * (-nostartfiles): nothing in a model needs constructors, stdio or a heap. Every fault prints one
 * `mlc-fault` line and exits through semihosting, so a crash under QEMU ends the run with
 * MLC_EXIT_FAULT instead of spinning in a handler until a timeout. One table serves ARMv6-M
 * (only HardFault exists; the other slots are never taken) up to ARMv8-M mainline.
 */
#include <stdint.h>

#include "harness.h"
#include "semihost.h"

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define MLC_MAINLINE 1 /* has CFSR, configurable faults */
#endif

#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* From the linker script (sections.ld). */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __ram_start[], __stack_bottom[], __stack_top[];

int main(int argc, char **argv);
void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((naked));
void mlc_fault_report(const uint32_t *frame) __attribute__((noreturn));
/* Weak so images without systick.c still link; an unexpected SysTick then reports as a fault. */
void SysTick_Handler(void) __attribute__((weak, alias("Fault_Handler")));

typedef void (*handler_t)(void);

/* The initial stack pointer is data, the rest are code: a struct keeps both types honest. */
struct vector_table {
    void *initial_sp;
    handler_t handlers[15 + 32]; /* 15 system exceptions, then 32 external interrupts */
};

#define F Fault_Handler
__attribute__((section(".vectors"), used)) const struct vector_table mlc_vectors = {
    __stack_top,
    {Reset_Handler, F /* NMI */, F /* HardFault */, F /* MemManage */, F /* BusFault */,
     F /* UsageFault */, F /* SecureFault */, 0, 0, 0, F /* SVCall */, F /* DebugMonitor */, 0,
     F /* PendSV */, SysTick_Handler, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F,
     F, F, F, F, F, F, F, F, F, F, F, F}};
#undef F

void Reset_Handler(void) {
    uint32_t *src = __data_load, *dst = __data_start;
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20; /* CP10 and CP11 full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* A stack overflow then faults (UsageFault STKOF) instead of overwriting .bss. */
    __asm__ volatile("msr msplim, %0" ::"r"(__stack_bottom));
#endif
#ifdef MLC_MAINLINE
    SCB_SHCSR |= 7u << 16; /* MemManage, BusFault, UsageFault get their own handlers (names) */
#endif
    while (dst < __data_end) *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end; ++dst) *dst = 0;
    mlc_sh_exit(main(0, (char **)0));
}

/* The stacked frame is on MSP (the harness never switches to PSP); hand it to C. */
void Fault_Handler(void) { __asm__ volatile("mrs r0, msp\n\tbl mlc_fault_report"); }

static char *put(char *at, const char *s) {
    while (*s != '\0') *at++ = *s++;
    return at;
}

static char *put_hex(char *at, const char *name, uint32_t value) {
    int shift;
    at = put(at, name);
    at = put(at, "=0x");
    for (shift = 28; shift >= 0; shift -= 4) *at++ = "0123456789abcdef"[(value >> shift) & 0xFu];
    return at;
}

static const char *exception_name(uint32_t number) {
    switch (number) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 7: return "SecureFault";
    case 11: return "SVCall";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return "Interrupt";
    }
}

void mlc_fault_report(const uint32_t *frame) {
    char line[160], *at = line;
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
    at = put(at, "mlc-fault ");
    at = put(at, exception_name(ipsr));
    at = put_hex(at, " exception", ipsr);
    /* Read the frame only if it lies in RAM: after a stacking fault MSP may point anywhere. */
    if (frame >= __ram_start && frame + 8 <= __stack_top) {
        at = put_hex(at, " pc", frame[6]);
        at = put_hex(at, " lr", frame[5]);
    }
#ifdef MLC_MAINLINE
    {
        uint32_t cfsr = SCB_CFSR;
        at = put_hex(at, " cfsr", cfsr);
        at = put_hex(at, " hfsr", SCB_HFSR);
        if (cfsr & (1u << 15)) at = put_hex(at, " bfar", SCB_BFAR);
        if (cfsr & (1u << 7)) at = put_hex(at, " mmfar", SCB_MMFAR);
    }
#endif
    at = put(at, "\n");
    *at = '\0';
    mlc_sh_write0(line);
    mlc_sh_exit(MLC_EXIT_FAULT);
}
