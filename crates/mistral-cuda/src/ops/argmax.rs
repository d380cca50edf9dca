use cudarc::driver::{CudaSlice, DevicePtr};
use mistral_core::{Error, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, drv, Device, Grid};
use crate::kernels::ARGMAX;
use crate::CudaTensor;

/// Row-wise argmax on the device (kernel `argmax_f32`); only `rows` ids are copied back.
/// This is the one point of a decode step that waits for the GPU.
/// `ids` holds at least `rows` u32s (the backend's reused buffer, so a decode step allocates
/// nothing and its argmax launch joins the step's recording; graph.rs).
pub fn argmax(
    dev: &Device,
    x: &CudaTensor,
    rows: usize,
    cols: usize,
    ids: &CudaSlice<u32>,
) -> Result<Vec<u32>> {
    if cols == 0 {
        return Err(Error::shape("argmax", "zero columns"));
    }
    want_f32("argmax", "x", x)?;
    if x.len() < rows * cols {
        return Err(Error::shape(
            "argmax",
            format!("x has {} elements, needs {}", x.len(), rows * cols),
        ));
    }
    if rows == 0 {
        return Ok(Vec::new());
    }
    let s = &dev.stream;
    let (px, pi) = (x.ptr(s), ids.device_ptr(s).0);
    let c = u32_of("argmax", "cols", cols)?;
    // SAFETY: argmax_f32(const float*, u32*, u32); x holds rows·cols f32s, ids at least rows u32s.
    unsafe {
        dev.launch(
            &ARGMAX,
            "argmax_f32",
            Grid::x(rows, 1024),
            &mut [arg(&px), arg(&pi), arg(&c)],
        )?
    };
    // The read-back ends a recorded step: issue it first.
    dev.flush()?;
    let mut out = vec![0u32; rows];
    s.memcpy_dtoh(&ids.slice(0..rows), &mut out)
        .map_err(drv("argmax read-back"))?;
    s.synchronize().map_err(drv("argmax synchronize"))?;
    Ok(out)
}
