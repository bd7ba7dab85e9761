"""What every backend builds with and writes, below the backends and below the runtime.

- ``artifact``: the artifact directory (``manifest.json`` + files): what ``mlc compile`` writes
  and ``mlc.runtime.load`` reads, so both sides share one definition of the contract.
- ``abi``: the C ABI of ``runtime/c/mlc_runtime.h`` as Python constants (version, arena
  alignment, entry points, status codes) and aligned buffers for calling it.
- ``host``: the machine this process runs on (triple, CPU, features, vector ISA).
- ``cc``: the system C compiler as compiler and linker driver (``build_shared_library``).
- ``cmake``: the standalone CMake project of a C model (host harness or Cortex-M image).
- ``cortex_m``: the Cortex-M cores mlc builds for, and the size of an image.

Nothing here knows a graph pass or a kernel; a backend combines these with its own lowering.
"""
