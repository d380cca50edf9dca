use mistral_core::{DType, Error, Result};
use mistral_model::random::{write_random_model, RandomModel};

use crate::args::RandomModelArgs;

pub fn run(a: RandomModelArgs) -> Result<()> {
    let dtype = DType::parse(&a.dtype).ok_or_else(|| {
        Error::InvalidInput(format!("--dtype {:?}: expected f32, f16 or bf16", a.dtype))
    })?;
    let text = std::fs::read_to_string(&a.config).map_err(|e| Error::io(&a.config, e))?;
    let opts = RandomModel {
        dtype,
        shards: a.shards,
        seed: a.seed,
    };
    write_random_model(
        &text,
        &a.out,
        &opts,
        &mut crate::progress::bytes("writing weights"),
    )
}
