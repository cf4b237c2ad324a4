//! A small property-test runner for unit and integration tests: a property is checked on many
//! generated cases from a seeded generator, and a failure names the seed and the case, so
//! `HMS_PROP_SEED=<seed> cargo test <name>` replays it exactly. (A dependency-free runner: the
//! usual crates would pull a second version of `rand` into every test build.)

use std::fmt::Debug;

use rand::SeedableRng;
/// The generator and its methods (`random_range`, `random_bool`), so tests need no `rand` of
/// their own.
pub use rand::{rngs::StdRng, RngExt};

/// Checks `property` on `cases` values drawn by `generate`; panics on the first case that
/// fails, naming the seed to replay it.
pub fn check<T: Debug>(
    name: &str,
    cases: u32,
    mut generate: impl FnMut(&mut StdRng) -> T,
    mut property: impl FnMut(&T) -> Result<(), String>,
) {
    let seed = std::env::var("HMS_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..cases {
        let case = generate(&mut rng);
        if let Err(why) = property(&case) {
            panic!(
                "property '{name}' failed on case {i}: {why}\n  case: {case:?}\n  replay: HMS_PROP_SEED={seed}"
            );
        }
    }
}

/// A string of `len` characters drawn from `alphabet`.
pub fn string_from(rng: &mut StdRng, alphabet: &[char], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
        .collect()
}

/// Fails with `message` unless `ok`.
pub fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "replay: HMS_PROP_SEED=")]
    fn a_failing_property_names_its_seed() {
        check(
            "always fails eventually",
            100,
            |r| r.random_range(0..10u32),
            |n| ensure(*n < 9, || format!("{n} is too big")),
        );
    }

    #[test]
    fn csv_cells_never_start_a_formula_and_read_back_as_written() {
        let alphabet = [
            'a', 'Z', '0', '=', '+', '-', '@', '\t', '\r', '\n', '"', ',', ';', ' ', 'ũ', '\'',
        ];
        check(
            "csv cell defusing",
            5_000,
            |r| {
                let len = r.random_range(0..12);
                string_from(r, &alphabet, len)
            },
            |value| {
                let cell = crate::ui::csv_cell(value);
                let inner = cell
                    .strip_prefix('"')
                    .and_then(|c| c.strip_suffix('"'))
                    .ok_or("not quoted")?;
                ensure(!inner.replace("\"\"", "").contains('"'), || {
                    format!("a lone quote inside {cell:?}")
                })?;
                let read = inner.replace("\"\"", "\"");
                ensure(!read.starts_with(['=', '+', '-', '@', '\t', '\r']), || {
                    format!("{read:?} starts a formula")
                })?;
                let back = read.strip_prefix('\'').filter(|_| read != *value);
                ensure(back.unwrap_or(&read) == value, || {
                    format!("{read:?} does not read back as {value:?}")
                })
            },
        );
    }
}
