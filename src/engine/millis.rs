//! `Millis`: a length of time in milliseconds that cannot overflow.
//!
//! Worst-case times add day-long timeouts times hundreds of re-prompts over chains of menus, and
//! a scripted call's clock runs as long as its script; `u32` milliseconds wrap after 49 days.
//! `Millis` is a `u64` whose arithmetic saturates, so a sum that could never happen on a real
//! line reads as "very long" rather than panicking or wrapping. It serialises as the bare
//! number, so JSON output is the same as with plain integers.

use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul};

/// Milliseconds, saturating at `u64::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    pub const ZERO: Millis = Millis(0);

    /// The time in seconds, for printing and for the simulator's clock.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl From<u32> for Millis {
    fn from(ms: u32) -> Millis {
        Millis(u64::from(ms))
    }
}

impl Add for Millis {
    type Output = Millis;

    fn add(self, other: Millis) -> Millis {
        Millis(self.0.saturating_add(other.0))
    }
}

impl AddAssign for Millis {
    fn add_assign(&mut self, other: Millis) {
        *self = *self + other;
    }
}

impl Mul<u64> for Millis {
    type Output = Millis;

    fn mul(self, times: u64) -> Millis {
        Millis(self.0.saturating_mul(times))
    }
}

impl Sum for Millis {
    fn sum<I: Iterator<Item = Millis>>(iter: I) -> Millis {
        iter.fold(Millis::ZERO, Add::add)
    }
}

impl std::fmt::Display for Millis {
    /// Seconds with one decimal, as reports print them: `1.3 s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::Millis;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Millis(u64::MAX - 1) + Millis(5), Millis(u64::MAX));
        assert_eq!(Millis(1 << 40) * (1 << 40), Millis(u64::MAX));
        assert_eq!([Millis(u64::MAX), Millis(1)].into_iter().sum::<Millis>(), Millis(u64::MAX));
        assert_eq!(Millis(4_000_000_000) + Millis(4_000_000_000), Millis(8_000_000_000));
    }

    #[test]
    fn prints_seconds_and_serialises_as_a_number() {
        assert_eq!(Millis(1300).to_string(), "1.3 s");
        assert_eq!(Millis(5_443_281_900).to_string(), "5443281.9 s");
        assert_eq!(serde_json::to_string(&Millis(1500)).ok().as_deref(), Some("1500"));
    }
}
