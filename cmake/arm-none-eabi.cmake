# arm-none-eabi.cmake: CMake toolchain file for bare-metal Cortex-M builds of a generated model.
#
# Why the CPU table lives here and not in CMakeLists.txt: the -mcpu/-mfpu/-mfloat-abi flags must
# already be in effect when CMake probes the compiler (they select newlib's multilib), and the
# toolchain file is what CMake reads before that probe. MLC_CPU picks one row; the row also names
# the QEMU board whose linker script (runtime/c/mcu/<board>.ld) and core clock the image uses.
# mlc.runtime.mcu keeps the same table for the Python side (QEMU machine, sizes); a test
# checks that the two agree.
#
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake -DMLC_CPU=cortex-m4

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# There is no start-up code for a probe executable to link against; probe with a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

if(NOT DEFINED MLC_CPU OR MLC_CPU STREQUAL "")
  set(MLC_CPU cortex-m4)
endif()
set(MLC_CPU "${MLC_CPU}" CACHE STRING
  "Cortex-M core: cortex-m0plus, cortex-m4, cortex-m7, cortex-m33")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MLC_CPU)

if(MLC_CPU STREQUAL "cortex-m0plus")
  # QEMU has no Cortex-M0+ and its MPS2 boards refuse -cpu cortex-m0: the image is linked for
  # the micro:bit (Cortex-M0, the same ARMv6-M instruction set; 256 KiB flash, 16 KiB RAM).
  set(MLC_CPU_FLAGS "-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft")
  set(MLC_BOARD microbit)
  set(MLC_CPU_HZ 16000000)
elseif(MLC_CPU STREQUAL "cortex-m4")
  set(MLC_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
  set(MLC_BOARD mps2_an386)
  set(MLC_CPU_HZ 25000000)
elseif(MLC_CPU STREQUAL "cortex-m7")
  set(MLC_CPU_FLAGS "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard")
  set(MLC_BOARD mps2_an500)
  set(MLC_CPU_HZ 25000000)
elseif(MLC_CPU STREQUAL "cortex-m33")
  set(MLC_CPU_FLAGS "-mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard")
  set(MLC_BOARD mps2_an505)
  set(MLC_CPU_HZ 20000000)
else()
  message(FATAL_ERROR
    "mlc: unknown MLC_CPU=${MLC_CPU}; use cortex-m0plus, cortex-m4, cortex-m7 or cortex-m33")
endif()

set(CMAKE_C_FLAGS_INIT "${MLC_CPU_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${MLC_CPU_FLAGS}")
# No C library start-up (runtime/c/mcu/startup_cortexm.c is it) and the small newlib.
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs -nostartfiles")

find_program(MLC_ARM_SIZE arm-none-eabi-size)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
