// The emulator's launcher and device memory, used by the fake driver (driver.cpp).
#pragma once

#include <stddef.h>
#include <string>
#include <vector>

#include "emu_device.h"

namespace emu {

struct Kernel {
    std::string name;
    Trampoline fn;
    int n_params;
    const size_t* param_sizes;
    int max_threads;  // from __launch_bounds__, 0 when the kernel has none
};

// The registered kernel called `name`, or nullptr.
const Kernel* find_kernel(const char* name);

// Runs `k` over the whole grid, one block after another, each thread a fiber. Returns "" on
// success, else a one-line description of what went wrong (divergent barrier, misaligned or
// out-of-range access, ...).
std::string launch(const Kernel& k, dim3 grid, dim3 block, u32 dynamic_smem_bytes, void** params);

// Device memory: 256-byte aligned, filled with 0xff (NaN as f32) so reads of memory never
// written show up. `total` is what the device reports; allocation fails beyond it.
void* device_alloc(size_t bytes);
bool device_free(void* p);
size_t device_used();
size_t device_total();
// Whether [p, p + bytes) lies inside one live allocation.
bool in_device_memory(const void* p, size_t bytes);

}  // namespace emu
