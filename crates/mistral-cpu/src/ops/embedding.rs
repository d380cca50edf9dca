use mistral_core::ops::check_embedding;
use mistral_core::Result;

use crate::CpuTensor;

/// `out[t, :] = table[tokens[t], :]`, widened to f32.
pub fn embedding(
    table: &CpuTensor,
    tokens: &[u32],
    hidden: usize,
    out: &mut CpuTensor,
) -> Result<()> {
    check_embedding(table, tokens, hidden, &*out)?;
    let out = out.f32_mut("embedding", tokens.len() * hidden)?;
    for (row, &t) in out.chunks_exact_mut(hidden).zip(tokens) {
        table.read_row(t as usize * hidden, row);
    }
    Ok(())
}
