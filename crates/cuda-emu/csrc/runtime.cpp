// The emulator's execution model: every CUDA thread of a block is a fiber on the calling
// OS thread; the scheduler runs each runnable fiber until it finishes or waits at a collective
// operation (__syncthreads, a shuffle, ldmatrix, mma), which completes when every thread that must
// take part has arrived. Blocks run one after another, launches one at a time (a global lock), so
// `__shared__` can be a static. Deterministic: the same launch always interleaves the same way.
#include "scheduler.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <deque>
#include <map>
#include <mutex>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
// Bounds of the section holding every kernel's `__shared__` arrays (emu_device.h), from the linker.
extern "C" char __start_emu_shared[] __attribute__((weak)), __stop_emu_shared[] __attribute__((weak));

namespace emu {
namespace {

std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> r;
    return r;
}

// ---- fibers ----
constexpr size_t STACK_BYTES = 256 << 10;

// A fiber's saved context. On x86-64 a switch saves the callee-saved registers on the old stack and
// swaps stack pointers (a few nanoseconds; swapcontext makes a system call per switch to save the
// signal mask, which dominated the run time). Elsewhere ucontext does it.
#if defined(__x86_64__)
extern "C" void emu_switch(void** save_sp, void* load_sp);
asm(R"(
    .text
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
struct Context {
    void* sp = nullptr;
};
void switch_to(Context& from, Context& to) { emu_switch(&from.sp, to.sp); }
// A fresh context that starts in `entry` on the stack [base, base + size).
void make_context(Context& c, void* base, size_t size, void (*entry)()) {
    uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
    void** sp = (void**)top;
    *--sp = nullptr;           // keeps rsp ≡ 8 (mod 16) at entry, as after a call
    *--sp = (void*)entry;      // popped by `ret`
    for (int i = 0; i < 6; ++i) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
    c.sp = sp;
}
#else
struct Context {
    ucontext_t uc;
};
void switch_to(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
void make_context(Context& c, void* base, size_t size, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = base;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;  // fibers never return: they switch back to the scheduler
    makecontext(&c.uc, entry, 0);
}
#endif

struct Copy {
    void* dst;
    const void* src;
    u32 bytes;
};

enum class State { Runnable, Blocked, Done };
enum class Wait { None, Barrier, Warp };

struct Thread {
    Context ctx;
    State state = State::Runnable;
    Wait wait = Wait::None;
    u32 tid = 0;
    u64 collectives = 0;  // collective operations this thread has entered (selects the warp buffer)
    std::vector<Copy> open_group;
    std::deque<std::vector<Copy>> groups;  // committed cp.async groups, oldest first
};

// Per-warp exchange area of a collective: two buffers used alternately, so a lane may enter the
// next collective while slower lanes still read the result of the previous one.
struct Warp {
    int arrived[2] = {0, 0};
    int kind[2][32];
    u32 in[2][32][MAX_IN];
    u32 out[2][32][MAX_OUT];
};

struct Launch {
    pthread_t thread;  // the OS thread running the launch (faults elsewhere are not ours)
    const Kernel* kernel = nullptr;
    void** params = nullptr;
    std::vector<Thread> threads;
    std::vector<Warp> warps;
    int live = 0, at_barrier = 0;
    Thread* cur = nullptr;
    Context sched;
    std::string error;
    std::vector<unsigned char> dyn_smem;  // + 16 bytes of alignment slack
    unsigned char* dyn = nullptr;
    size_t dyn_bytes = 0;
};

std::mutex launch_mu;
Launch* L = nullptr;
std::vector<void*> stacks;
void switch_to_scheduler_after_fault();

// "kernel K, block (x,y,z)[, thread t]" into buf (no allocation: also used by the fault handler).
void where_into(char* buf, size_t n) {
    int len = snprintf(buf, n, "kernel %s, block (%u,%u,%u)", L->kernel->name.c_str(), blockIdx.x, blockIdx.y,
                       blockIdx.z);
    if (L->cur && len > 0 && (size_t)len < n) snprintf(buf + len, n - len, ", thread %u", L->cur->tid);
}

std::string where() {
    char buf[200];
    where_into(buf, sizeof buf);
    return buf;
}

}  // namespace

// Stops the launch from inside a fiber: records the error and never returns to the kernel.
[[noreturn]] void fail(const std::string& msg) {
    if (L->error.empty()) L->error = where() + ": " + msg;
    Thread* t = L->cur;
    t->state = State::Blocked;
    switch_to(t->ctx, L->sched);
    abort();  // unreachable: a failed launch never resumes its fibers
}

namespace {

void yield_blocked() {
    Thread* t = L->cur;
    t->state = State::Blocked;
    switch_to(t->ctx, L->sched);
}

void run_copies(std::vector<Copy>& g) {
    for (const Copy& c : g) {
        memcpy(c.dst, c.src, c.bytes);
        memset((char*)c.dst + c.bytes, 0, 16 - c.bytes);
    }
    g.clear();
}

void release_barrier() {
    for (Thread& t : L->threads)
        if (t.wait == Wait::Barrier) { t.wait = Wait::None; t.state = State::Runnable; }
    L->at_barrier = 0;
}

void fiber_main() {
    Thread* t = L->cur;
    L->kernel->fn(L->params);
    // Copies never waited for still land before the kernel ends.
    t->groups.push_back(std::move(t->open_group));
    for (auto& g : t->groups) run_copies(g);
    t->groups.clear();
    t->state = State::Done;
    L->live--;
    // Exited threads no longer count at a barrier.
    if (L->at_barrier > 0 && L->at_barrier == L->live) release_barrier();
    switch_to(t->ctx, L->sched);  // never resumed
    abort();
}

int warp_lanes(u32 w) { return (int)std::min<u32>(32, blockDim.x - 32 * w); }

std::string describe_deadlock() {
    std::string s = "deadlock: no thread can run (";
    char buf[96];
    snprintf(buf, sizeof buf, "%d of %d live threads at __syncthreads", L->at_barrier, L->live);
    s += buf;
    for (size_t w = 0; w < L->warps.size(); ++w)
        for (int b = 0; b < 2; ++b)
            if (L->warps[w].arrived[b]) {
                snprintf(buf, sizeof buf, "; warp %zu: %d of %d lanes in a warp collective", w,
                         L->warps[w].arrived[b], warp_lanes(w));
                s += buf;
            }
    return s + "): a divergent barrier or shuffle, or a lane that exited before a warp collective";
}

// ---- faults inside kernels ----
// A kernel that touches memory outside every allocation (SIGSEGV/SIGBUS: the guard pages) or makes
// a misaligned vector access or an out-of-bounds index of a fixed-size array (SIGILL: the UBSan
// alignment and bounds checks the kernels are compiled with trap)
// stops the launch with an error, like CUDA_ERROR_ILLEGAL_ADDRESS / MISALIGNED_ADDRESS on a GPU.
// The handler runs on its own stack (so a fiber stack overflow is reported too) and abandons the
// faulting fiber by switching to the scheduler. Faults outside a kernel keep their old handling.
struct sigaction old_actions[3];
stack_t old_altstack;
const int fault_signals[3] = {SIGSEGV, SIGBUS, SIGILL};

void fault_handler(int sig, siginfo_t* info, void*) {
    if (!L || !L->cur || !pthread_equal(pthread_self(), L->thread)) {
        for (int i = 0; i < 3; ++i)
            if (fault_signals[i] == sig) sigaction(sig, &old_actions[i], nullptr);
        return;  // the faulting instruction runs again under the previous handler
    }
    if (L->error.empty()) {  // formatted on the stack; L->error has capacity reserved: no malloc
        char at[200], buf[400];
        where_into(at, sizeof at);
        if (sig == SIGILL)
            snprintf(buf, sizeof buf, "%s: trap: a misaligned vector access, or an index past the end of a fixed-size local or shared array", at);
        else
            snprintf(buf, sizeof buf, "%s: illegal memory access at %p (outside every device allocation, or a fiber stack overflow)",
                     at, info->si_addr);
        L->error.assign(buf);
    }
    switch_to_scheduler_after_fault();
}

void install_fault_handlers() {
    static thread_local std::vector<char> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, &old_altstack);
    struct sigaction sa{};
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;  // the handler never returns for kernel faults
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(fault_signals[i], &sa, &old_actions[i]);
}

void restore_fault_handlers() {
    for (int i = 0; i < 3; ++i) sigaction(fault_signals[i], &old_actions[i], nullptr);
    sigaltstack(&old_altstack, nullptr);
}

void switch_to_scheduler_after_fault() {
    Thread* t = L->cur;
    t->state = State::Blocked;
    switch_to(t->ctx, L->sched);
    abort();  // never resumed
}

// Runs one block to completion (or failure).
void run_block() {
    const u32 n = blockDim.x;
    L->threads.assign(n, Thread{});
    L->warps.assign((n + 31) / 32, Warp{});
    L->live = (int)n;
    L->at_barrier = 0;
    // Shared memory starts undefined: NaN everywhere, static (the emu_shared section) and dynamic.
    if (__stop_emu_shared > __start_emu_shared) memset(__start_emu_shared, 0xff, __stop_emu_shared - __start_emu_shared);
    if (L->dyn) memset(L->dyn, 0xff, L->dyn_bytes);
    while (stacks.size() < n) {
        void* s = mmap(nullptr, STACK_BYTES + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s == MAP_FAILED) { L->error = "cannot map fiber stacks"; return; }
        mprotect(s, 4096, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
        stacks.push_back(s);
    }
    for (u32 i = 0; i < n; ++i) {
        Thread& t = L->threads[i];
        t.tid = i;
        make_context(t.ctx, (char*)stacks[i] + 4096, STACK_BYTES, fiber_main);
    }
    // Fibers run in thread order in even blocks and in reverse order in odd ones: a race between a
    // writer and a reader in one barrier interval then reads stale data in one of the two orders
    // (either the lower or the higher thread runs first), instead of always being hidden.
    const bool reverse = (blockIdx.x + blockIdx.y + blockIdx.z) & 1;
    while (L->live > 0 && L->error.empty()) {
        bool ran = false;
        for (u32 k = 0; k < n; ++k) {
            Thread& t = L->threads[reverse ? n - 1 - k : k];
            if (t.state != State::Runnable) continue;
            L->cur = &t;
            threadIdx = uint3{t.tid, 0, 0};
            switch_to(L->sched, t.ctx);
            L->cur = nullptr;
            ran = true;
            if (!L->error.empty()) return;
        }
        if (!ran) {
            L->cur = nullptr;
            L->error = where() + ": " + describe_deadlock();
        }
    }
}

}  // namespace

const u32* collective(Kind kind, const u32* in, int n_in, Compute compute) {
    Thread* t = L->cur;
    const u32 w = t->tid / 32, lane = t->tid % 32;
    Warp& wp = L->warps[w];
    const int b = (int)(t->collectives++ & 1);
    wp.kind[b][lane] = kind;
    memcpy(wp.in[b][lane], in, n_in * 4);
    t->wait = Wait::Warp;
    if (++wp.arrived[b] == warp_lanes(w)) {
        for (int l = 0; l < warp_lanes(w); ++l)
            if (wp.kind[b][l] != kind) fail("lanes of one warp are in different warp-wide instructions");
        if (warp_lanes(w) != 32) fail("a warp-wide instruction in a partial warp (block size not a multiple of 32)");
        compute(wp.in[b], wp.out[b]);
        wp.arrived[b] = 0;
        for (int l = 0; l < 32; ++l) {
            Thread& o = L->threads[w * 32 + l];
            if (&o != t) { o.wait = Wait::None; o.state = State::Runnable; }
        }
        t->wait = Wait::None;
    } else {
        yield_blocked();
    }
    return wp.out[b][lane];
}

Registrar::Registrar(const char* name, Trampoline fn, int n_params, const size_t* sizes, int max_threads) {
    registry()[name] = Kernel{name, fn, n_params, sizes, max_threads};
}

const Kernel* find_kernel(const char* name) {
    auto it = registry().find(name);
    return it == registry().end() ? nullptr : &it->second;
}

void syncthreads() {
    Thread* t = L->cur;
    t->wait = Wait::Barrier;
    if (++L->at_barrier == L->live) {
        release_barrier();
    } else {
        yield_blocked();
    }
}

void check_access(const void* p, size_t bytes, size_t align, const char* what) {
    if ((uintptr_t)p % align) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s: address %p is not %zu-byte aligned", what, p, align);
        fail(buf);
    }
    if (!in_device_memory(p, bytes)) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s: %zu bytes at %p are outside every device allocation", what, bytes, p);
        fail(buf);
    }
}

void cp_async(void* smem, const void* gmem, u32 src_bytes) {
    if ((uintptr_t)smem % 16) fail("cp.async: shared address not 16-byte aligned");
    if (src_bytes) check_access(gmem, src_bytes, 16, "cp.async");
    L->cur->open_group.push_back(Copy{smem, gmem, src_bytes});
}

void cp_async_commit() {
    Thread* t = L->cur;
    t->groups.push_back(std::move(t->open_group));
    t->open_group.clear();
}

void cp_async_wait(int n) {
    Thread* t = L->cur;
    while ((int)t->groups.size() > n) {
        run_copies(t->groups.front());
        t->groups.pop_front();
    }
}

void* dynamic_smem() {
    if (!L->dyn) fail("dynamic shared memory used but the launch asked for 0 bytes");
    return L->dyn;
}

std::string launch(const Kernel& k, dim3 grid, dim3 block, u32 smem_bytes, void** params) {
    std::lock_guard<std::mutex> lock(launch_mu);
    if (block.x == 0 || block.x > 1024 || block.y != 1 || block.z != 1)
        return "kernel " + k.name + ": block must be (1..1024, 1, 1) in the emulator";
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
        return "kernel " + k.name + ": invalid grid";
    if (smem_bytes > 227 * 1024) return "kernel " + k.name + ": more than 227 KiB of dynamic shared memory";
    if (k.max_threads && (int)block.x > k.max_threads)
        return "kernel " + k.name + ": " + std::to_string(block.x) + " threads per block, above its __launch_bounds__(" +
               std::to_string(k.max_threads) + ")";
    // Copy the arguments, as the driver does at launch.
    std::vector<std::vector<unsigned char>> values(k.n_params);
    std::vector<void*> ptrs(k.n_params);
    for (int i = 0; i < k.n_params; ++i) {
        values[i].resize(k.param_sizes[i] + 16);
        void* aligned = (void*)(((uintptr_t)values[i].data() + 15) & ~(uintptr_t)15);
        memcpy(aligned, params[i], k.param_sizes[i]);
        ptrs[i] = aligned;
    }
    Launch launch_state;
    launch_state.thread = pthread_self();
    launch_state.error.reserve(512);
    L = &launch_state;
    L->kernel = &k;
    L->params = ptrs.data();
    if (smem_bytes) {
        L->dyn_smem.resize(smem_bytes + 16);
        L->dyn = (unsigned char*)(((uintptr_t)L->dyn_smem.data() + 15) & ~(uintptr_t)15);
        L->dyn_bytes = smem_bytes;
    }
    gridDim = grid;
    blockDim = block;
    install_fault_handlers();
    for (u32 z = 0; z < grid.z && L->error.empty(); ++z)
        for (u32 y = 0; y < grid.y && L->error.empty(); ++y)
            for (u32 x = 0; x < grid.x && L->error.empty(); ++x) {
                blockIdx = uint3{x, y, z};
                run_block();
            }
    restore_fault_handlers();
    std::string err = L->error;
    L = nullptr;
    return err;
}

}  // namespace emu
