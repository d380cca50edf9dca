use mistral_core::{Error, Result, TensorInfo};

use crate::CpuTensor;

/// `out[t, :] = table[tokens[t], :]`, widened to f32.
pub fn embedding(
    table: &CpuTensor,
    tokens: &[u32],
    hidden: usize,
    out: &mut CpuTensor,
) -> Result<()> {
    if hidden == 0 || !table.len().is_multiple_of(hidden) {
        return Err(Error::shape(
            "embedding",
            format!("table of {} elements is not [vocab, {hidden}]", table.len()),
        ));
    }
    let vocab = table.len() / hidden;
    if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::InvalidInput(format!(
            "token id {bad} is out of range (vocab size {vocab})"
        )));
    }
    let out = out.f32_mut("embedding", tokens.len() * hidden)?;
    for (row, &t) in out.chunks_exact_mut(hidden).zip(tokens) {
        table.read_row(t as usize * hidden, row);
    }
    Ok(())
}
