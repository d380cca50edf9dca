//! The emulator itself: kernels that break CUDA's rules (csrc/selftest.cu) must fail with a clear
//! one-line error instead of hanging or computing garbage, and ldmatrix + mma must compute a plain
//! matrix product. Calls the fake driver directly (no cudarc), so it runs in any process.

#![cfg(target_os = "linux")]

use std::ffi::{c_char, c_void, CStr, CString};

type Res = i32;
const LAUNCH_FAILED: Res = 719;
const NOT_FOUND: Res = 500;

struct Driver {
    lib: libloading::Library,
}

impl Driver {
    fn open() -> Driver {
        let path = cuda_emu::library_path().expect("the emulator is built on Linux");
        // SAFETY: our own library; loading it only registers its kernels.
        let lib = unsafe { libloading::Library::new(path) }.expect("load the emulator");
        Driver { lib }
    }

    fn sym<T: Copy>(&self, name: &str) -> T {
        // SAFETY: each name below is declared with the C signature the emulator defines.
        unsafe { *self.lib.get::<T>(name.as_bytes()).expect(name) }
    }

    fn function(&self, name: &str) -> Result<*mut c_void, Res> {
        let get: unsafe extern "C" fn(*mut *mut c_void, *mut c_void, *const c_char) -> Res =
            self.sym("cuModuleGetFunction");
        let mut f = std::ptr::null_mut();
        let c = CString::new(name).unwrap();
        // SAFETY: out-pointer and a NUL-terminated name.
        match unsafe { get(&mut f, std::ptr::null_mut(), c.as_ptr()) } {
            0 => Ok(f),
            e => Err(e),
        }
    }

    fn alloc(&self, bytes: usize) -> u64 {
        let alloc: unsafe extern "C" fn(*mut u64, usize) -> Res = self.sym("cuMemAlloc_v2");
        let mut p = 0u64;
        // SAFETY: out-pointer.
        assert_eq!(unsafe { alloc(&mut p, bytes) }, 0);
        p
    }

    fn upload<T: Copy>(&self, data: &[T]) -> u64 {
        let bytes = std::mem::size_of_val(data);
        let p = self.alloc(bytes);
        let copy: unsafe extern "C" fn(u64, *const c_void, usize) -> Res =
            self.sym("cuMemcpyHtoD_v2");
        // SAFETY: p holds `bytes` bytes, data is a live slice of that size.
        assert_eq!(unsafe { copy(p, data.as_ptr().cast(), bytes) }, 0);
        p
    }

    fn download_f32(&self, p: u64, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        let copy: unsafe extern "C" fn(*mut c_void, u64, usize) -> Res =
            self.sym("cuMemcpyDtoH_v2");
        // SAFETY: out holds n floats, p at least as many (allocated by the test).
        assert_eq!(unsafe { copy(out.as_mut_ptr().cast(), p, n * 4) }, 0);
        out
    }

    /// Launches `name` on one block of `threads` with `args` (pointers to the values); returns
    /// the error string when the launch fails.
    fn launch(&self, name: &str, threads: u32, args: &mut [*mut c_void]) -> Result<(), String> {
        type Launch = unsafe extern "C" fn(
            *mut c_void,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            *mut c_void,
            *mut *mut c_void,
            *mut *mut c_void,
        ) -> Res;
        let launch: Launch = self.sym("cuLaunchKernel");
        let f = self.function(name).expect(name);
        // SAFETY: args match the selftest kernel's parameters; buffers are sized by each test.
        let r = unsafe {
            launch(
                f,
                1,
                1,
                1,
                threads,
                1,
                1,
                0,
                std::ptr::null_mut(),
                args.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        if r == 0 {
            return Ok(());
        }
        assert_eq!(r, LAUNCH_FAILED);
        let text: unsafe extern "C" fn(Res, *mut *const c_char) -> Res =
            self.sym("cuGetErrorString");
        let mut s = std::ptr::null();
        // SAFETY: out-pointer; the string stays valid until the next failed launch.
        unsafe { text(r, &mut s) };
        Err(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
    }
}

fn arg<T>(v: &T) -> *mut c_void {
    v as *const T as *mut c_void
}

#[test]
fn rule_breaking_kernels_fail_clearly() {
    let d = Driver::open();
    let out = d.alloc(64 * 4);
    let input = d.upload(&[0f32; 8]);
    let n = 8u32;
    let big = d.alloc(4096 * 4);
    let n_big = 4096u32;
    let cases: [(&str, Vec<*mut c_void>, &str); 7] = [
        (
            "selftest_divergent_barrier",
            vec![arg(&out)],
            "deadlock: no thread can run",
        ),
        (
            "selftest_exited_lane_shuffle",
            vec![arg(&out)],
            "16 of 32 lanes in a warp collective",
        ),
        (
            "selftest_misaligned_load",
            vec![arg(&input), arg(&out)],
            "is not 16-byte aligned",
        ),
        (
            "selftest_load_past_end",
            vec![arg(&input), arg(&out), arg(&n)],
            "outside every device allocation",
        ),
        (
            "selftest_misaligned_float4",
            vec![arg(&input), arg(&out)],
            "misaligned vector access",
        ),
        (
            "selftest_local_array_past_end",
            vec![arg(&input), arg(&out), arg(&n)],
            "past the end of a fixed-size local or shared array",
        ),
        (
            "selftest_store_past_end",
            vec![arg(&big), arg(&n_big)],
            "illegal memory access",
        ),
    ];
    for (name, mut args, want) in cases {
        let err = d
            .launch(name, 32, &mut args)
            .expect_err(&format!("{name} must fail"));
        assert!(
            err.contains(name) && err.contains(want),
            "{name}: unexpected error {err:?}"
        );
        assert!(!err.contains('\n'), "one line: {err:?}");
    }
}

#[test]
fn unknown_kernel_is_not_found() {
    assert_eq!(Driver::open().function("no_such_kernel"), Err(NOT_FOUND));
}

/// ldmatrix + mma.m16n8k16 (bf16 and f16) against a plain f64 matrix product of the same values.
#[test]
fn mma_computes_a_matrix_product() {
    let d = Driver::open();
    // Small integers and halves are exact in bf16 and f16; mixed signs reach every fragment.
    let a: Vec<f32> = (0..256)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.5)
        .collect();
    let bt: Vec<f32> = (0..128)
        .map(|i| ((i * 5 % 17) as f32 - 8.0) * 0.25)
        .collect();
    let bf16 = |v: &[f32]| -> Vec<u16> { v.iter().map(|x| (x.to_bits() >> 16) as u16).collect() };
    let f16 = |v: &[f32]| -> Vec<u16> {
        v.iter()
            .map(|&x| half::f16::from_f32(x).to_bits())
            .collect()
    };
    for (kernel, enc) in [
        ("selftest_mma_bf16", &bf16 as &dyn Fn(&[f32]) -> Vec<u16>),
        ("selftest_mma_f16", &f16),
    ] {
        let (pa, pb, pd) = (d.upload(&enc(&a)), d.upload(&enc(&bt)), d.alloc(128 * 4));
        d.launch(kernel, 32, &mut [arg(&pa), arg(&pb), arg(&pd)])
            .unwrap();
        let got = d.download_f32(pd, 128);
        for r in 0..16 {
            for c in 0..8 {
                let want: f64 = (0..16)
                    .map(|k| a[r * 16 + k] as f64 * bt[c * 16 + k] as f64)
                    .sum();
                assert_eq!(got[r * 8 + c] as f64, want, "{kernel}: D[{r}][{c}]");
            }
        }
    }
}

/// `ldmatrix .trans` loads the transpose: each block through .trans equals the transposed
/// tile's block through the plain load (whose layout the mma test checks).
#[test]
fn ldmatrix_trans_is_the_transpose() {
    let d = Driver::open();
    let m: Vec<u16> = (0..256u16).map(|i| i.wrapping_mul(40503)).collect();
    let (pm, pout) = (d.upload(&m), d.alloc(256 * 4));
    d.launch("selftest_ldmatrix_trans", 32, &mut [arg(&pm), arg(&pout)])
        .unwrap();
    let words: Vec<u32> = d
        .download_f32(pout, 256)
        .iter()
        .map(|f| f.to_bits())
        .collect();
    assert_eq!(words[..128], words[128..]);
    // And it moved data (a tile of distinct values gives distinct fragments).
    assert!(words[..128].windows(2).any(|w| w[0] != w[1]));
}
