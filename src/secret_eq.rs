//! Comparing a secret a request presents with the one configured, in constant time.
//!
//! `==` on strings stops at the first differing byte, so its timing tells an attacker how much
//! of a guess was right. Both sides are hashed first (SHA-256), so neither the secret's bytes
//! nor its length shape the time, then the digests are compared with `subtle`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `given` equals `expected`, in time independent of where they differ.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given).ct_eq(&Sha256::digest(expected)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_equal() {
        assert!(secret_eq(b"token", b"token"));
        assert!(secret_eq(b"", b""));
        for other in [&b"tokem"[..], b"token ", b"", b"TOKEN", b"toke"] {
            assert!(!secret_eq(other, b"token"), "{other:?}");
        }
    }
}
