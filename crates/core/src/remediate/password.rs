//! New passwords: 20 characters from the OS random source, with every character class
//! Entra's complexity rule counts, and no look-alike characters to misread when typed.

use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#%+-=?@^_";
const LENGTH: usize = 20;

/// A uniform index below `n`, by rejection so no character is favoured.
fn below(n: usize) -> Result<usize, rand::rand_core::OsError> {
    let limit = u32::MAX - u32::MAX % n as u32;
    loop {
        let x = OsRng.try_next_u32()?;
        if x < limit {
            return Ok((x % n as u32) as usize);
        }
    }
}

/// Fails only when the OS cannot give randomness; then no password is better than a weak one.
pub(super) fn generate() -> Result<SecretString, String> {
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let pick = |set: &[u8]| below(set.len()).map(|i| set[i]);
    let fail = |e: rand::rand_core::OsError| {
        format!("the operating system gave no randomness for a password ({e})")
    };
    let mut chars = Vec::with_capacity(LENGTH);
    for set in [LOWER, UPPER, DIGITS, SYMBOLS] {
        chars.push(pick(set).map_err(fail)?);
    }
    while chars.len() < LENGTH {
        chars.push(pick(&all).map_err(fail)?);
    }
    // Fisher–Yates, so the guaranteed classes are not always first.
    for i in (1..chars.len()).rev() {
        chars.swap(i, below(i + 1).map_err(fail)?);
    }
    Ok(SecretString::from(String::from_utf8(chars).expect("ASCII")))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn passwords_are_long_complex_and_different() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = generate().unwrap();
            let p = p.expose_secret();
            assert_eq!(p.len(), LENGTH);
            for set in [LOWER, UPPER, DIGITS, SYMBOLS] {
                assert!(p.bytes().any(|b| set.contains(&b)), "{p} lacks a class");
            }
            assert!(
                !p.contains(['0', 'O', 'l', 'I', '1']),
                "{p} has a look-alike"
            );
            assert!(seen.insert(p.to_string()), "a password repeated");
        }
    }
}
