//! Helpers shared by the unit tests of the value modules.

/// Deterministic pseudo-random strings over `alphabet` (no external crates).
pub(crate) fn random_strings(alphabet: &[u8], count: usize, max_len: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    (0..count)
        .map(|_| {
            let len = next() % (max_len + 1);
            (0..len)
                .map(|_| char::from(alphabet[next() % alphabet.len()]))
                .collect()
        })
        .collect()
}
