//! HyperLogLog as Redis computes it, so that the embedded store's unique
//! counts equal what `PFCOUNT` answers for the same elements: the same
//! hash (MurmurHash64A, seed 0xadc83b19), 2^14 registers, and Redis's
//! estimator (Ertl's improved raw estimate, used since Redis 5).
//!
//! Registers are kept one per byte; Redis packs them into 6 bits, which
//! changes nothing the count sees.

/// Number of registers (2^14), as in Redis.
pub const REGISTERS: usize = 1 << P;
const P: u32 = 14;
const Q: u32 = 64 - P;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A as Redis uses it (little-endian blocks).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the run length it offers.
fn position(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Adds one element; true when a register changed (what `PFADD` reports).
pub fn add(registers: &mut [u8], element: &[u8]) -> bool {
    let (index, run) = position(element);
    match registers.get_mut(index) {
        Some(r) if *r < run => {
            *r = run;
            true
        }
        _ => false,
    }
}

/// The cardinality estimate, exactly as Redis's `PFCOUNT` computes it.
pub fn count(registers: &[u8]) -> u64 {
    let mut histogram = [0u32; Q as usize + 2];
    for &r in registers.iter().take(REGISTERS) {
        histogram[usize::from(r).min(Q as usize + 1)] += 1;
    }
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Registers of a union: the larger register wins (`PFMERGE`).
pub fn merge(into: &mut [u8], from: &[u8]) {
    for (a, &b) in into.iter_mut().zip(from) {
        if *a < b {
            *a = b;
        }
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}
