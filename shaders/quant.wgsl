// Block-quantized weights, decoded in place from GGML's block bytes (the file's bytes, unchanged),
// bound as `w: array<u32>` by every shader that includes this file (`//#include quant.wgsl`).
// One format is compiled in, chosen by its define: Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K or Q6_K.
// The layouts are those of crates/mistral-core/src/quant/<format>.rs.
//
// Every format is read in groups of 16 consecutive weights, the finest scale granularity (Q6_K has
// one scale per 16; the others share a scale over 32 or 64 weights):
//   QK, QB                the block's weights and bytes; GB = QK / 16 groups per block
//   scale(blk, g)         (d, m) of group g of the block starting at byte blk: w = d·q (+ m)
//   levels4(blk, g, i)    the integer levels q of weights 16g + 4i .. 16g + 4i + 3, as f32
//   deq4(s, q)            those weights: d·q, plus m for the formats with a min (Q4_1, Q4_K, Q5_K)
// A block may start at any even byte (34, 18, 20, 22 and 210 are not multiples of 4): bytes, f16s
// and words are read at byte offsets by word index and shift.
//
// Exactness: deq4 gives the CPU's f32 values bit for bit. Every product before the last is exact
// in f32 (f16 d: 11 significant bits; 6-bit K-quant scale: d·sc has 17; Q6_K's i8 scale: d·sc has
// 19; levels have at most 6), and so is d·q except for Q6_K's (d·sc)·q, which is the CPU's
// association and its only rounding. K-quant mins enter as m = -(dmin·mj), exact, and a + (-b)
// equals a - b in IEEE arithmetic. So w = d·q + m has a single rounding whether or not the
// compiler contracts it into a fused multiply-add: no contraction guard is needed.
// f16 scales are widened with unpack2x16float, exact for every finite f16.

// Byte `b` of the weight buffer.
fn byte_at(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// The four bytes at even offset `b` as one little-endian word.
fn word_at(b: u32) -> u32 {
    let i = b >> 2u;
    if ((b & 2u) == 0u) {
        return w[i];
    }
    return (w[i] >> 16u) | (w[i + 1u] << 16u);
}

// The f16 at even offset `b`, widened to f32.
fn f16_at(b: u32) -> f32 {
    return unpack2x16float(w[b >> 2u] >> ((b & 2u) * 8u)).x;
}

// The four bytes of a word, lowest first.
fn bytes4(u: u32) -> vec4<u32> {
    return (vec4<u32>(u) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
}

// The four bytes of a word as signed values.
fn ibytes4(u: u32) -> vec4<f32> {
    let s = bitcast<vec4<i32>>(vec4<u32>(u) << vec4<u32>(24u, 16u, 8u, 0u));
    return vec4<f32>(s >> vec4<u32>(24u));
}

// The low (hi == 0) or high (hi == 1) nibbles of a word's four bytes.
fn nibbles4(u: u32, hi: u32) -> vec4<u32> {
    return (bytes4(u) >> vec4<u32>(4u * hi)) & vec4<u32>(0xfu);
}

// Q4_K and Q5_K: sub-block j's (d·sc, -(dmin·m)) from the f16 d and dmin at bytes 0 and 2 and
// the 6-bit scale and min packed in bytes 4..16 (get_scale_min_k4 in k_scales.rs).
fn k_scale(blk: u32, j: u32) -> vec2<f32> {
    let s = blk + 4u;
    var sc: u32;
    var m: u32;
    if (j < 4u) {
        sc = byte_at(s + j) & 63u;
        m = byte_at(s + j + 4u) & 63u;
    } else {
        sc = (byte_at(s + j + 4u) & 0xfu) | ((byte_at(s + j - 4u) >> 6u) << 4u);
        m = (byte_at(s + j + 4u) >> 4u) | ((byte_at(s + j) >> 6u) << 4u);
    }
    return vec2<f32>(f16_at(blk) * f32(sc), -(f16_at(blk + 2u) * f32(m)));
}

//#if Q8_0
// 34 bytes: f16 d, 32 × i8 q.  w = q·d
const QK: u32 = 32u;
const QB: u32 = 34u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return vec2<f32>(f16_at(blk), 0.0); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> { return ibytes4(word_at(blk + 2u + 16u * g + 4u * i)); }
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q; }
//#endif

//#if Q4_0
// 18 bytes: f16 d, 16 bytes holding weights j (low nibble) and j + 16 (high).  w = (q - 8)·d
const QK: u32 = 32u;
const QB: u32 = 18u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return vec2<f32>(f16_at(blk), 0.0); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    return vec4<f32>(nibbles4(word_at(blk + 2u + 4u * i), g)) - 8.0;
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q; }
//#endif

//#if Q4_1
// 20 bytes: f16 d, f16 m, 16 bytes of nibbles as Q4_0.  w = q·d + m
const QK: u32 = 32u;
const QB: u32 = 20u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return vec2<f32>(f16_at(blk), f16_at(blk + 2u)); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    return vec4<f32>(nibbles4(word_at(blk + 4u + 4u * i), g));
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q + s.y; }
//#endif

//#if Q5_0
// 22 bytes: f16 d, u32 qh (bit j: fifth bit of weight j), 16 bytes of nibbles as Q4_0.
// w = (q - 16)·d
const QK: u32 = 32u;
const QB: u32 = 22u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return vec2<f32>(f16_at(blk), 0.0); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    let j = 16u * g + 4u * i;
    let high = (vec4<u32>(word_at(blk + 2u)) >> (vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u))) & vec4<u32>(1u);
    return vec4<f32>(nibbles4(word_at(blk + 6u + 4u * i), g) | (high << vec4<u32>(4u))) - 16.0;
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q; }
//#endif

//#if Q4_K
// 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins (k_scales.rs), 128 bytes of
// nibbles: 64-weight chunk c holds weights 64c + l (low nibble, sub-block 2c) and 64c + 32 + l
// (high, sub-block 2c + 1) in byte 32c + l.  w = (d·sc)·q - dmin·m
const QK: u32 = 256u;
const QB: u32 = 144u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return k_scale(blk, g / 2u); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    let c = g / 4u;
    let l = 16u * (g % 2u) + 4u * i;
    return vec4<f32>(nibbles4(word_at(blk + 16u + 32u * c + l), (g / 2u) % 2u));
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q + s.y; }
//#endif

//#if Q5_K
// 176 bytes: f16 d, f16 dmin, 12 bytes of scales and mins, 32 bytes qh (bit 2c + h of byte l: the
// fifth bit of chunk c's weight l (h = 0) or 32 + l (h = 1)), 128 bytes of nibbles as Q4_K.
// w = (d·sc)·q - dmin·m
const QK: u32 = 256u;
const QB: u32 = 176u;
fn scale(blk: u32, g: u32) -> vec2<f32> { return k_scale(blk, g / 2u); }
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    let c = g / 4u;
    let h = (g / 2u) % 2u;
    let l = 16u * (g % 2u) + 4u * i;
    let high = (bytes4(word_at(blk + 16u + l)) >> vec4<u32>(2u * c + h)) & vec4<u32>(1u);
    return vec4<f32>(nibbles4(word_at(blk + 48u + 32u * c + l), h) | (high << vec4<u32>(4u)));
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q + s.y; }
//#endif

//#if Q6_K
// 210 bytes: ql[128], qh[64], 16 × i8 scales, f16 d. Half hh (128 weights) has ql[64hh..],
// qh[32hh..]: weight 128hh + 32k + l (k < 4, l < 32) is the low (k < 2) or high (k >= 2) nibble
// of ql[64hh + 32(k % 2) + l] with bits 2k, 2k + 1 of qh[32hh + l] above it; its group
// g = 8hh + 2k + l / 16 has scale g.  w = (d·sc)·(q - 32)
const QK: u32 = 256u;
const QB: u32 = 210u;
fn scale(blk: u32, g: u32) -> vec2<f32> {
    let sc = bitcast<i32>(byte_at(blk + 192u + g) << 24u) >> 24u;
    return vec2<f32>(f16_at(blk + 208u) * f32(sc), 0.0);
}
fn levels4(blk: u32, g: u32, i: u32) -> vec4<f32> {
    let hh = g / 8u;
    let k = (g % 8u) / 2u;
    let l = 16u * (g % 2u) + 4u * i;
    let low = nibbles4(word_at(blk + 64u * hh + 32u * (k % 2u) + l), k / 2u);
    let high = (bytes4(word_at(blk + 128u + 32u * hh + l)) >> vec4<u32>(2u * k)) & vec4<u32>(3u);
    return vec4<f32>(low | (high << vec4<u32>(4u))) - 32.0;
}
fn deq4(s: vec2<f32>, q: vec4<f32>) -> vec4<f32> { return s.x * q; }
//#endif

// Groups of 16 weights per block.
const GB: u32 = QK / 16u;
