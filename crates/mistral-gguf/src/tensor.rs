//! Tensor descriptions and the size rules the reader and the writer share.

use mistral_core::DType;

/// GGML's `GGML_MAX_DIMS`: a tensor has at most this many dimensions.
pub const MAX_DIMS: usize = 4;

/// One tensor of a GGUF file, as its tensor info describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// GGML order: `dims[0]` (`ne[0]`) is the fastest-varying, the row length.
    pub dims: Vec<u64>,
    pub dtype: DType,
    /// Start of the tensor's bytes, relative to the data section.
    pub offset: u64,
    /// Length of the tensor's bytes.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// The shape in PyTorch order (outermost first): `dims` reversed.
    pub fn shape(&self) -> Vec<usize> {
        // The reader checked that the element count fits a usize, so every dim does too.
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Number of elements (1 for a tensor with no dimensions).
    pub fn numel(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// The upper-case GGML name of a dtype (`Q4_K`, `BF16`), as llama.cpp prints it.
pub(crate) fn ggml_name(dtype: DType) -> &'static str {
    DType::ggml_type_name(dtype.ggml_type()).unwrap_or("?")
}

/// The dtype of GGML type id `id`, or a message naming the type that is refused.
pub(crate) fn dtype_of(name: &str, id: u32) -> Result<DType, String> {
    DType::from_ggml_type(id).ok_or_else(|| match DType::ggml_type_name(id) {
        Some(type_name) => {
            let supported: Vec<&str> = DType::ALL.iter().map(|&d| ggml_name(d)).collect();
            format!(
                "tensor {name} has type {type_name}, which is not supported (supported: {})",
                supported.join(", ")
            )
        }
        None => format!("tensor {name} has unknown GGML type {id}"),
    })
}

/// Bytes of a tensor of `dims` (GGML order) in `dtype`, or a one-line message saying why the
/// dims are invalid: too many, an element count that overflows, or a row length that is not a
/// whole number of blocks.
pub(crate) fn tensor_bytes(name: &str, dims: &[u64], dtype: DType) -> Result<u64, String> {
    if dims.len() > MAX_DIMS {
        return Err(format!(
            "tensor {name} has {} dimensions (GGML allows at most {MAX_DIMS})",
            dims.len()
        ));
    }
    // The element count must fit a usize (and so a u64) so that shapes and byte lengths can be
    // indexed on this machine; a zero dimension is legal (an empty tensor).
    let numel = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    let overflow = || format!("tensor {name}: dimensions {dims:?} overflow");
    let numel = numel.ok_or_else(overflow)?;
    let block = dtype.block_elems() as u64;
    let row = dims.first().copied().unwrap_or(1);
    if row % block != 0 {
        return Err(format!(
            "tensor {name}: row length {row} is not a multiple of the {} block ({block})",
            ggml_name(dtype)
        ));
    }
    // Whole rows are whole blocks, so the whole tensor is too.
    let bytes = dtype.bytes_for(numel).ok_or_else(overflow)?;
    u64::try_from(bytes).map_err(|_| overflow())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(tensor_bytes("t", &[256, 3], DType::Q4K), Ok(3 * 144));
        assert_eq!(tensor_bytes("t", &[], DType::F32), Ok(4));
        assert_eq!(tensor_bytes("t", &[0, 7], DType::Q8_0), Ok(0));
        assert_eq!(
            tensor_bytes("t", &[100], DType::Q4K).unwrap_err(),
            "tensor t: row length 100 is not a multiple of the Q4_K block (256)"
        );
        assert!(tensor_bytes("t", &[1 << 40, 1 << 40], DType::F32)
            .unwrap_err()
            .contains("overflow"));
        assert!(tensor_bytes("t", &[1; 5], DType::F32)
            .unwrap_err()
            .contains("5 dimensions"));
        let info = TensorInfo {
            name: "t".into(),
            dims: vec![4, 3, 2],
            dtype: DType::F32,
            offset: 0,
            n_bytes: 96,
        };
        assert_eq!(info.shape(), vec![2, 3, 4]);
        assert_eq!(info.numel(), 24);
    }

    #[test]
    fn refused_types_are_named() {
        assert_eq!(
            dtype_of("blk.0.attn_q.weight", 7).unwrap_err(),
            "tensor blk.0.attn_q.weight has type Q5_1, which is not supported \
             (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K)"
        );
        assert_eq!(
            dtype_of("x", 99).unwrap_err(),
            "tensor x has unknown GGML type 99"
        );
        assert_eq!(dtype_of("x", 12), Ok(DType::Q4K));
    }
}
