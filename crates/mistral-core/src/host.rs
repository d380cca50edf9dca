//! Host-side tensor data: bytes that may live in a memory map, shared without copying.

use std::sync::Arc;

use crate::DType;

/// A byte range inside a shared owner (a memory-mapped file or a `Vec<u8>`).
///
/// Cloning is cheap; the bytes are never copied, so a 14.5 GB bf16 checkpoint can be handed to a
/// backend straight from its memory map.
#[derive(Clone)]
pub struct HostBytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl HostBytes {
    /// Wraps a whole owner.
    pub fn new(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        let len = (*owner).as_ref().len();
        HostBytes {
            owner,
            start: 0,
            len,
        }
    }

    /// Wraps a range of an owner. Returns `None` if the range is out of bounds.
    pub fn slice(
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        len: usize,
    ) -> Option<Self> {
        let total = (*owner).as_ref().len();
        (start.checked_add(len)? <= total).then_some(HostBytes { owner, start, len })
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        HostBytes::new(Arc::new(v))
    }

    pub fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..self.start + self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for HostBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostBytes({} bytes)", self.len)
    }
}

/// A tensor on the host: dtype, shape and little-endian bytes.
#[derive(Clone, Debug)]
pub struct HostTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub bytes: HostBytes,
}

impl HostTensor {
    /// Builds an f32 host tensor from values (tests and small inputs).
    ///
    /// For a block format the rows (the last dimension) must be whole blocks, as in a GGUF file.
    pub fn from_f32(shape: Vec<usize>, values: &[f32], dtype: DType) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len());
        assert!(
            shape
                .last()
                .is_none_or(|r| r.is_multiple_of(dtype.block_elems())),
            "rows of {shape:?} are not whole {dtype} blocks"
        );
        HostTensor {
            dtype,
            shape,
            bytes: HostBytes::from_vec(dtype.encode(values)),
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// All elements widened to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.numel()];
        self.dtype.decode_into(self.bytes.as_slice(), &mut out);
        out
    }
}
