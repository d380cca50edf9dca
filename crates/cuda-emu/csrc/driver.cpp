// A fake libcuda: the subset of the CUDA driver API that cudarc calls for this workspace, backed by
// host memory and the CPU launcher (runtime.cpp). One device, "CUDA emulator (CPU)", compute
// capability 8.0 and 8 GiB (CUDA_EMU_COMPUTE_CAPABILITY and CUDA_EMU_MEMORY_BYTES change them). Every stream operation runs to completion before the call returns (which is one
// legal schedule of CUDA's asynchronous semantics). Device pointers are host pointers.
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>

#include "runtime.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

namespace {

enum : CUresult {
    SUCCESS = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    INVALID_DEVICE = 101,
    INVALID_IMAGE = 200,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    LAUNCH_FAILED = 719,
    NOT_SUPPORTED = 801,
};

struct Context { int device; };
struct Module { int unused; };
struct Function {
    const emu::Kernel* kernel;
    int max_dynamic_smem = 48 * 1024;  // above 48 KiB needs cuFuncSetAttribute, as on a GPU
};
struct Stream { int unused; };
struct Event { std::chrono::steady_clock::time_point at; bool recorded = false; };

Context the_context{0};
thread_local Context* current = nullptr;
// The message of this thread's last failed launch (cuGetErrorString hands out its c_str()).
thread_local std::string last_launch_error;

CUresult check_dev(CUdevice d) { return d == 0 ? SUCCESS : INVALID_DEVICE; }

// CUDA_EMU_FAIL="cuGraphInstantiateWithFlags,..." makes those calls (cuFuncGetParamInfo,
// cuGraphInstantiateWithFlags, cuMemcpyHtoD_v2) fail with
// CUDA_ERROR_NOT_SUPPORTED, to test the callers' fallbacks.
bool forced_failure(const char* fn) {
    const char* env = getenv("CUDA_EMU_FAIL");
    if (!env) return false;
    const std::string list = std::string(",") + env + ",";
    return list.find(std::string(",") + fn + ",") != std::string::npos;
}

// 80 unless CUDA_EMU_COMPUTE_CAPABILITY says otherwise (tests of the refusal of older GPUs).
int compute_capability() {
    const char* env = getenv("CUDA_EMU_COMPUTE_CAPABILITY");
    return env ? atoi(env) : 80;
}

}  // namespace

#define API extern "C" __attribute__((visibility("default"))) CUresult

API cuInit(unsigned) { return SUCCESS; }
API cuDriverGetVersion(int* v) { *v = 12090; return SUCCESS; }
API cuDeviceGetCount(int* n) { *n = 1; return SUCCESS; }
API cuDeviceGet(CUdevice* d, int ordinal) { if (ordinal != 0) return INVALID_DEVICE; *d = 0; return SUCCESS; }
API cuDeviceGetName(char* name, int len, CUdevice d) {
    if (check_dev(d)) return INVALID_DEVICE;
    snprintf(name, len, "CUDA emulator (CPU)");
    return SUCCESS;
}
API cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
    if (check_dev(d)) return INVALID_DEVICE;
    switch (attr) {
        case 1: *v = 1024; break;           // max threads per block
        case 8: *v = 48 * 1024; break;      // shared memory per block
        case 10: *v = 32; break;            // warp size
        case 13: *v = 1000000; break;       // clock rate (kHz)
        case 16: *v = 1; break;             // multiprocessors
        case 36: *v = 1000000; break;       // memory clock rate (kHz)
        case 37: *v = 64; break;            // memory bus width (bits)
        case 38: *v = 1 << 20; break;       // L2 bytes
        case 75: *v = compute_capability() / 10; break;
        case 76: *v = compute_capability() % 10; break;
        case 97: *v = 227 * 1024; break;    // shared memory per block, opt-in
        case 115: *v = 1; break;            // memory pools: cudarc allocates and frees on the stream
        default: *v = 0;
    }
    return SUCCESS;
}
API cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
    if (check_dev(d)) return INVALID_DEVICE;
    *bytes = emu::device_total();
    return SUCCESS;
}
API cuDevicePrimaryCtxRetain(void** ctx, CUdevice d) {
    if (check_dev(d)) return INVALID_DEVICE;
    *ctx = &the_context;
    return SUCCESS;
}
API cuDevicePrimaryCtxRelease_v2(CUdevice d) { return check_dev(d); }
API cuCtxSetCurrent(void* ctx) { current = (Context*)ctx; return SUCCESS; }
API cuCtxGetCurrent(void** ctx) { *ctx = current; return SUCCESS; }
API cuCtxPushCurrent_v2(void* ctx) { current = (Context*)ctx; return SUCCESS; }
API cuCtxPopCurrent_v2(void** ctx) { if (ctx) *ctx = current; return SUCCESS; }
API cuCtxGetDevice(CUdevice* d) { *d = 0; return SUCCESS; }
API cuCtxSynchronize() { return SUCCESS; }

API cuStreamCreate(void** s, unsigned) { *s = new Stream{}; return SUCCESS; }
API cuStreamCreateWithPriority(void** s, unsigned, int) { *s = new Stream{}; return SUCCESS; }
API cuStreamDestroy_v2(void* s) { delete (Stream*)s; return SUCCESS; }
API cuStreamSynchronize(void*) { return SUCCESS; }
API cuStreamQuery(void*) { return SUCCESS; }
API cuStreamWaitEvent(void*, void*, unsigned) { return SUCCESS; }

API cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    void* m = emu::device_alloc(bytes);
    if (!m) return OUT_OF_MEMORY;
    *p = (CUdeviceptr)m;
    return SUCCESS;
}
API cuMemAllocAsync(CUdeviceptr* p, size_t bytes, void*) { return cuMemAlloc_v2(p, bytes); }
API cuMemFree_v2(CUdeviceptr p) { return emu::device_free((void*)p) ? SUCCESS : INVALID_VALUE; }
API cuMemFreeAsync(CUdeviceptr p, void*) { return cuMemFree_v2(p); }
API cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    *total = emu::device_total();
    *free_bytes = *total - emu::device_used();
    return SUCCESS;
}
API cuMemHostAlloc(void** p, size_t bytes, unsigned) { *p = malloc(bytes ? bytes : 1); return *p ? SUCCESS : OUT_OF_MEMORY; }
API cuMemAllocHost_v2(void** p, size_t bytes) { return cuMemHostAlloc(p, bytes, 0); }
API cuMemFreeHost(void* p) { free(p); return SUCCESS; }

// Copies and fills check that the device side lies inside one allocation, as an illegal address
// would fault on a GPU.
static CUresult dev_range(CUdeviceptr p, size_t n) {
    return n == 0 || emu::in_device_memory((const void*)p, n) ? SUCCESS : INVALID_VALUE;
}
API cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) {
    if (dev_range(p, n)) return INVALID_VALUE;
    memset((void*)p, v, n);
    return SUCCESS;
}
API cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, void*) { return cuMemsetD8_v2(p, v, n); }
API cuMemsetD32_v2(CUdeviceptr p, unsigned v, size_t n) {
    if (dev_range(p, n * 4)) return INVALID_VALUE;
    for (size_t i = 0; i < n; ++i) memcpy((char*)p + 4 * i, &v, 4);
    return SUCCESS;
}
API cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, void*) { return cuMemsetD32_v2(p, v, n); }
API cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    if (forced_failure("cuMemcpyHtoD_v2")) return NOT_SUPPORTED;
    if (dev_range(dst, n)) return INVALID_VALUE;
    memcpy((void*)dst, src, n);
    return SUCCESS;
}
API cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void*) { return cuMemcpyHtoD_v2(dst, src, n); }
API cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    if (dev_range(src, n)) return INVALID_VALUE;
    memcpy(dst, (const void*)src, n);
    return SUCCESS;
}
API cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void*) { return cuMemcpyDtoH_v2(dst, src, n); }
API cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    if (dev_range(dst, n) || dev_range(src, n)) return INVALID_VALUE;
    memmove((void*)dst, (const void*)src, n);
    return SUCCESS;
}
API cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void*) { return cuMemcpyDtoD_v2(dst, src, n); }

// Modules: the image NVRTC produced is checked to be a cubin (ELF) or PTX text and otherwise
// ignored; functions are looked up among the kernels compiled into this library.
API cuModuleLoadData(void** m, const void* image) {
    const unsigned char* b = (const unsigned char*)image;
    const bool elf = b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    const bool ptx = strstr((const char*)image, ".version") != nullptr;
    if (!elf && !ptx) return INVALID_IMAGE;
    *m = new Module{};
    return SUCCESS;
}
API cuModuleUnload(void* m) { delete (Module*)m; return SUCCESS; }
API cuModuleGetFunction(void** f, void*, const char* name) {
    const emu::Kernel* k = emu::find_kernel(name);
    if (!k) return NOT_FOUND;
    *f = new Function{k};  // leaked with the module, as small as a handle
    return SUCCESS;
}
API cuFuncGetAttribute(int* v, int attr, void*) {
    *v = attr == 0 ? 1024 : 0;  // max threads per block; everything else 0
    return SUCCESS;
}
API cuFuncSetAttribute(void* f, int attr, int value) {
    if (!f) return INVALID_HANDLE;
    if (attr == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || value > 227 * 1024) return INVALID_VALUE;
        ((Function*)f)->max_dynamic_smem = value;
    }
    return SUCCESS;
}
API cuFuncSetCacheConfig(void*, int) { return SUCCESS; }

API cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned smem, void* stream, void** params, void** extra) {
    (void)stream;
    if (!f) return INVALID_HANDLE;
    if (extra) return INVALID_VALUE;  // only kernelParams are supported
    const emu::Kernel& k = *((Function*)f)->kernel;
    if ((int)smem > ((Function*)f)->max_dynamic_smem) {
        fprintf(stderr, "cuda-emu: kernel %s: %u bytes of dynamic shared memory without the attribute for more than 48 KiB\n",
                k.name.c_str(), smem);
        return INVALID_VALUE;
    }
    const std::string err = emu::launch(k, dim3{gx, gy, gz}, dim3{bx, by, bz}, smem, params);
    if (err.empty()) return SUCCESS;
    last_launch_error = "cuda-emu: " + err;
    fprintf(stderr, "%s\n", last_launch_error.c_str());
    return LAUNCH_FAILED;
}

// cuFuncGetParamInfo: sizes from the kernel's C signature (offsets as packed by the driver ABI:
// each parameter aligned to its size, at most 8).
API cuFuncGetParamInfo(void* f, size_t index, size_t* offset, size_t* size) {
    if (!f) return INVALID_HANDLE;
    if (forced_failure("cuFuncGetParamInfo")) return NOT_SUPPORTED;
    const emu::Kernel& k = *((Function*)f)->kernel;
    if (index >= (size_t)k.n_params) return INVALID_VALUE;
    size_t off = 0;
    for (size_t i = 0; i <= index; ++i) {
        const size_t a = k.param_sizes[i] >= 8 ? 8 : k.param_sizes[i];
        off = (off + a - 1) / a * a;
        if (i < index) off += k.param_sizes[i];
    }
    *offset = off;
    *size = k.param_sizes[index];
    return SUCCESS;
}

// Graphs of kernel nodes: nodes run in the order they were added (each depends on the previous in
// this workspace; a dependency on a node not yet added is refused). An executable graph holds its
// own copy of every node's arguments, updated by cuGraphExecKernelNodeSetParams, as in CUDA.
struct KernelNodeParams {  // CUDA_KERNEL_NODE_PARAMS_v2
    void* func;
    unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
    void** kernelParams;
    void** extra;
    void* kern;
    void* ctx;
};
struct Node {
    const emu::Kernel* kernel;
    dim3 grid, block;
    unsigned smem;
    std::vector<std::vector<unsigned char>> args;
};
struct Graph {
    std::vector<Node*> nodes;
    ~Graph() { for (Node* n : nodes) delete n; }
};
struct GraphExec {
    std::vector<Node*> keys;  // the graph's node handles, for SetParams
    std::vector<Node> nodes;
};

static CUresult fill_node(Node& n, const KernelNodeParams* p) {
    if (!p || !p->func || p->extra || !p->kernelParams) return INVALID_VALUE;
    n.kernel = ((Function*)p->func)->kernel;
    n.grid = dim3{p->gridDimX, p->gridDimY, p->gridDimZ};
    n.block = dim3{p->blockDimX, p->blockDimY, p->blockDimZ};
    n.smem = p->sharedMemBytes;
    n.args.assign(n.kernel->n_params, {});
    for (int i = 0; i < n.kernel->n_params; ++i) {
        const unsigned char* v = (const unsigned char*)p->kernelParams[i];
        n.args[i].assign(v, v + n.kernel->param_sizes[i]);
    }
    return SUCCESS;
}

API cuGraphCreate(void** g, unsigned) { *g = new Graph{}; return SUCCESS; }
API cuGraphDestroy(void* g) { delete (Graph*)g; return SUCCESS; }
API cuGraphAddKernelNode_v2(void** node, void* graph, void* const* deps, size_t n_deps,
                            const KernelNodeParams* p) {
    Graph* g = (Graph*)graph;
    for (size_t i = 0; i < n_deps; ++i)
        if (std::find(g->nodes.begin(), g->nodes.end(), (Node*)deps[i]) == g->nodes.end()) return INVALID_VALUE;
    Node* n = new Node{};
    if (CUresult r = fill_node(*n, p)) { delete n; return r; }
    g->nodes.push_back(n);
    *node = n;
    return SUCCESS;
}
API cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    if (forced_failure("cuGraphInstantiateWithFlags")) return NOT_SUPPORTED;
    Graph* g = (Graph*)graph;
    GraphExec* e = new GraphExec{};
    e->keys = g->nodes;
    for (Node* n : g->nodes) e->nodes.push_back(*n);
    *exec = e;
    return SUCCESS;
}
API cuGraphExecDestroy(void* e) { delete (GraphExec*)e; return SUCCESS; }
API cuGraphExecKernelNodeSetParams_v2(void* exec, void* node, const KernelNodeParams* p) {
    GraphExec* e = (GraphExec*)exec;
    auto it = std::find(e->keys.begin(), e->keys.end(), (Node*)node);
    if (it == e->keys.end()) return INVALID_VALUE;
    Node& n = e->nodes[it - e->keys.begin()];
    Node updated;
    if (CUresult r = fill_node(updated, p)) return r;
    if (updated.kernel != n.kernel) return INVALID_VALUE;  // CUDA: the function may not change
    n = std::move(updated);
    return SUCCESS;
}
API cuGraphLaunch(void* exec, void* stream) {
    (void)stream;
    for (Node& n : ((GraphExec*)exec)->nodes) {
        std::vector<void*> ptrs;
        for (auto& a : n.args) ptrs.push_back(a.data());
        const std::string err = emu::launch(*n.kernel, n.grid, n.block, n.smem, ptrs.data());
        if (!err.empty()) {
            last_launch_error = "cuda-emu: (graph) " + err;
            fprintf(stderr, "%s\n", last_launch_error.c_str());
            return LAUNCH_FAILED;
        }
    }
    return SUCCESS;
}

API cuEventCreate(void** e, unsigned) { *e = new Event{}; return SUCCESS; }
API cuEventDestroy_v2(void* e) { delete (Event*)e; return SUCCESS; }
API cuEventRecord(void* e, void*) {
    ((Event*)e)->at = std::chrono::steady_clock::now();
    ((Event*)e)->recorded = true;
    return SUCCESS;
}
API cuEventRecordWithFlags(void* e, void* s, unsigned) { return cuEventRecord(e, s); }
API cuEventSynchronize(void*) { return SUCCESS; }
API cuEventQuery(void*) { return SUCCESS; }
API cuEventElapsedTime(float* ms, void* a, void* b) {
    const Event* s = (const Event*)a;
    const Event* e = (const Event*)b;
    if (!s->recorded || !e->recorded) return INVALID_HANDLE;
    *ms = std::chrono::duration<float, std::milli>(e->at - s->at).count();
    return SUCCESS;
}
API cuEventElapsedTime_v2(float* ms, void* a, void* b) { return cuEventElapsedTime(ms, a, b); }

API cuGetErrorName(CUresult r, const char** s) {
    switch (r) {
        case SUCCESS: *s = "CUDA_SUCCESS"; break;
        case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
        case INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
        case NOT_SUPPORTED: *s = "CUDA_ERROR_NOT_SUPPORTED"; break;
        default: *s = "CUDA_ERROR_UNKNOWN";
    }
    return SUCCESS;
}
API cuGetErrorString(CUresult r, const char** s) {
    if (r == LAUNCH_FAILED) {
        *s = last_launch_error.c_str();
        return SUCCESS;
    }
    return cuGetErrorName(r, s);
}
