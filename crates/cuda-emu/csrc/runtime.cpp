// The emulator's execution model: every CUDA thread of a block is a fiber on the calling
// OS thread; the scheduler runs each runnable fiber until it finishes or waits at a collective
// operation (__syncthreads, a shuffle, ldmatrix, mma), which completes when every thread that must
// take part has arrived. Blocks run one after another, launches one at a time (a global lock), so
// `__shared__` can be a static. Deterministic: the same launch always interleaves the same way.
#include "runtime.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <climits>
#include <cmath>
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

// ---- device memory ----
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
enum Kind : int { SHFL = 1, LDMATRIX = 2, MMA = 3 };
constexpr int MAX_IN = 12, MAX_OUT = 4;
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

// Stops the launch from inside a fiber: records the error and never returns to the kernel.
[[noreturn]] void fail(const std::string& msg) {
    if (L->error.empty()) L->error = where() + ": " + msg;
    Thread* t = L->cur;
    t->state = State::Blocked;
    switch_to(t->ctx, L->sched);
    abort();  // unreachable: a failed launch never resumes its fibers
}

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
// a misaligned vector access (SIGILL: the alignment checks the kernels are compiled with trap)
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
            snprintf(buf, sizeof buf, "%s: misaligned access: a vector load or store at an address not aligned to its type", at);
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

// Enters a warp collective of `kind`: deposits `in`, waits for the whole warp, returns this lane's
// output row. `compute(in, out)` runs once, in the last lane to arrive, over all lanes' inputs.
template <typename Compute>
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

u32 half_at(const void* row, int elem) {
    u16 h;
    memcpy(&h, (const char*)row + 2 * elem, 2);
    return h;
}

// The accumulation of one mma step as tensor cores do it (Fasi, Higham, Mikaitis, Pranesh 2021,
// "Numerical behavior of NVIDIA tensor cores"): products of 16-bit values are exact; the addends
// (the accumulator and a block of products) are aligned to the largest of them and truncated to
// its 24-bit significand, summed, and the sum is truncated to f32 (round toward zero). Modelled
// pessimistically (no guard bits, blocks of 8 products), so an accuracy bound that holds here
// does not depend on a GPU rounding more kindly than round-to-nearest would.
float tensor_core_sum(const double* t, int n) {
    int emax = INT_MIN;
    for (int i = 0; i < n; ++i)
        if (t[i] != 0.0) {
            int e;
            frexp(t[i], &e);
            emax = e > emax ? e : emax;
        }
    if (emax == INT_MIN) return 0.0f;
    const double quantum = ldexp(1.0, emax - 24);
    double sum = 0.0;  // exact: at most 9 multiples of quantum below 2^(emax+4)
    for (int i = 0; i < n; ++i) sum += trunc(t[i] / quantum) * quantum;
    float r = (float)sum;
    if (fabs((double)r) > fabs(sum)) r = nextafterf(r, 0.0f);  // round toward zero
    return r;
}

float mma_elem(u32 bits16, MmaType t) {
    return t == MmaType::bf16 ? __uint_as_float(bits16 << 16) : f16_to_f32((u16)bits16);
}

}  // namespace

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

u32 shfl(u32 mask, u32 v, int lane_or_xor, bool is_xor, int width) {
    if (mask != 0xffffffffu) fail("shuffle with a partial mask (the kernels use full warps only)");
    if (width != 32) fail("shuffle width other than 32");
    const u32 in[3] = {v, (u32)lane_or_xor, is_xor ? 1u : 0u};
    return collective(SHFL, in, 3, [](u32 (*i)[MAX_IN], u32 (*o)[MAX_OUT]) {
        for (int l = 0; l < 32; ++l) {
            // Source lane as __shfl_sync / __shfl_xor_sync compute it for width 32: the low 5 bits.
            const int src = (i[l][2] ? (l ^ (int)i[l][1]) : (int)i[l][1]) & 31;
            o[l][0] = i[src][0];
        }
    })[0];
}

void ldmatrix_x4(u32 r[4], const void* smem, bool trans) {
    if ((uintptr_t)smem % 16) fail("ldmatrix row address not 16-byte aligned");
    const uintptr_t a = (uintptr_t)smem;
    const u32 in[3] = {(u32)a, (u32)(a >> 32), trans ? 1u : 0u};
    const u32* o = collective(LDMATRIX, in, 3, [](u32 (*i)[MAX_IN], u32 (*out)[MAX_OUT]) {
        auto row = [&](int lane) { return (const void*)((uintptr_t)i[lane][0] | ((uintptr_t)i[lane][1] << 32)); };
        // Matrix m's 8 rows come from lanes 8m..8m+7; lane l receives, of each matrix, the pair at
        // (row l/4, cols 2(l%4), 2(l%4)+1), or with .trans the pair at (rows 2(l%4), 2(l%4)+1, col l/4).
        for (int l = 0; l < 32; ++l)
            for (int m = 0; m < 4; ++m) {
                u32 lo, hi;
                if (!i[l][2]) {
                    lo = half_at(row(8 * m + l / 4), 2 * (l % 4));
                    hi = half_at(row(8 * m + l / 4), 2 * (l % 4) + 1);
                } else {
                    lo = half_at(row(8 * m + 2 * (l % 4)), l / 4);
                    hi = half_at(row(8 * m + 2 * (l % 4) + 1), l / 4);
                }
                out[l][m] = lo | (hi << 16);
            }
    });
    memcpy(r, o, 16);
}

void mma_m16n8k16(float d[4], const u32 a[4], u32 b0, u32 b1, MmaType type) {
    u32 in[11];
    memcpy(in, a, 16);
    in[4] = b0;
    in[5] = b1;
    memcpy(in + 6, d, 16);
    in[10] = (u32)type;
    const u32* o = collective(MMA, in, 11, [](u32 (*i)[MAX_IN], u32 (*out)[MAX_OUT]) {
        for (int l = 1; l < 32; ++l)
            if (i[l][10] != i[0][10]) fail("mma lanes disagree on the element type");
        const MmaType t = (MmaType)i[0][10];
        // Fragment layouts of mma.m16n8k16 (PTX ISA), g = lane / 4, c = lane % 4:
        //   A (16x16, row): a0 = A[g][2c..2c+1], a1 = A[g+8][2c..], a2 = A[g][2c+8..], a3 = A[g+8][2c+8..]
        //   B (16x8, col):  b0 = B[2c..2c+1][g], b1 = B[2c+8..2c+9][g]
        //   C/D (16x8):     c0,c1 = C[g][2c..2c+1], c2,c3 = C[g+8][2c..2c+1]
        float A[16][16], B[16][8], C[16][8];
        for (int l = 0; l < 32; ++l) {
            const int g = l / 4, c = l % 4;
            for (int e = 0; e < 2; ++e) {
                auto h = [&](u32 w) { return mma_elem(e ? w >> 16 : w & 0xffff, t); };
                A[g][2 * c + e] = h(i[l][0]);
                A[g + 8][2 * c + e] = h(i[l][1]);
                A[g][2 * c + 8 + e] = h(i[l][2]);
                A[g + 8][2 * c + 8 + e] = h(i[l][3]);
                B[2 * c + e][g] = h(i[l][4]);
                B[2 * c + 8 + e][g] = h(i[l][5]);
                C[g][2 * c + e] = __uint_as_float(i[l][6 + e]);
                C[g + 8][2 * c + e] = __uint_as_float(i[l][8 + e]);
            }
        }
        for (int l = 0; l < 32; ++l) {
            const int g = l / 4, c = l % 4;
            for (int e = 0; e < 4; ++e) {
                const int row = g + (e >> 1) * 8, col = 2 * c + (e & 1);
                float acc = C[row][col];
                for (int k0 = 0; k0 < 16; k0 += 8) {
                    double terms[9] = {acc};
                    for (int k = 0; k < 8; ++k) terms[1 + k] = (double)A[row][k0 + k] * (double)B[k0 + k][col];
                    acc = tensor_core_sum(terms, 9);
                }
                out[l][e] = __float_as_uint(acc);
            }
        }
    });
    memcpy(d, o, 16);
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

// IEEE binary16 conversions in integer code (no _Float16: older compilers lack it in C++).
float f16_to_f32(u16 h) {
    const u32 sign = (u32)(h & 0x8000) << 16, exp = (h >> 10) & 31, mant = h & 0x3ff;
    if (exp == 0) {  // zero or subnormal: mant · 2^-24, exact in f32
        const float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return __uint_as_float(sign | 0x7f800000u | (mant << 13));  // inf, NaN
    return __uint_as_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}
// Round to nearest even, overflow to infinity, NaN to PTX's canonical 0x7fff.
u16 f32_to_f16(float f) {
    u32 x = __float_as_uint(f);
    const u32 sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return 0x7fff;
    if (x >= 0x477ff000u) return (u16)(sign | 0x7c00);  // >= 65520 rounds to infinity
    if (x >= 0x38800000u) {                              // normal f16 (>= 2^-14)
        u32 h = ((((x >> 23) - 127 + 15) << 10) | ((x & 0x7fffff) >> 13));
        const u32 rem = x & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry moves into the exponent
        return (u16)(sign | h);
    }
    if (x < 0x33000000u) return (u16)sign;  // below 2^-25: rounds to zero (2^-25 ties to even 0)
    const u32 mant = (x & 0x7fffff) | 0x800000;
    const int shift = -((int)(x >> 23) - 127 + 1);  // subnormal unit 2^-24: 14..24
    u32 h = mant >> shift;
    const u32 rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return (u16)(sign | h);
}
u16 f32_to_bf16(float f) {
    u32 b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN: PTX's canonical bf16 NaN
    b += 0x7fffu + ((b >> 16) & 1);                       // round to nearest even
    return (u16)(b >> 16);
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
