// Device memory of the emulator: host pages, one allocation per mapping, each ending (at its
// 256-byte rounded size) right before an inaccessible guard page.
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <map>
#include <mutex>

#include "runtime.h"

namespace emu {
namespace {

std::mutex mem_mu;
struct Allocation {
    size_t bytes;      // as requested
    void* map;         // the mapping: data, then one inaccessible guard page
    size_t map_bytes;
};
std::map<uintptr_t, Allocation> allocations;  // by start address
size_t used_bytes = 0;
constexpr size_t PAGE = 4096;

size_t total_bytes() {
    static size_t total = [] {
        const char* env = getenv("CUDA_EMU_MEMORY_BYTES");
        return env ? (size_t)strtoull(env, nullptr, 10) : (size_t)8 << 30;
    }();
    return total;
}

}  // namespace

// Each allocation ends (at its 256-byte rounded size) right before an inaccessible page, so a
// kernel reading or writing past the end faults, and the fault handler turns that into a launch
// error naming the kernel, block and thread (as compute-sanitizer's memcheck would).
void* device_alloc(size_t bytes) {
    std::lock_guard<std::mutex> lock(mem_mu);
    const size_t rounded = bytes ? (bytes + 255) / 256 * 256 : 256;
    if (used_bytes + rounded > total_bytes()) return nullptr;
    const size_t data_pages = (rounded + PAGE - 1) / PAGE;
    const size_t map_bytes = (data_pages + 1) * PAGE;
    void* map = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    char* guard = (char*)map + data_pages * PAGE;
    mprotect(guard, PAGE, PROT_NONE);
    void* p = guard - rounded;
    memset(p, 0xff, rounded);
    allocations[(uintptr_t)p] = Allocation{bytes, map, map_bytes};
    used_bytes += rounded;
    return p;
}

bool device_free(void* p) {
    std::lock_guard<std::mutex> lock(mem_mu);
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end()) return false;
    used_bytes -= it->second.bytes ? (it->second.bytes + 255) / 256 * 256 : 256;
    munmap(it->second.map, it->second.map_bytes);
    allocations.erase(it);
    return true;
}

size_t device_used() {
    std::lock_guard<std::mutex> lock(mem_mu);
    return used_bytes;
}

size_t device_total() { return total_bytes(); }

bool in_device_memory(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mem_mu);
    const uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return false;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second.bytes;
}

}  // namespace emu
