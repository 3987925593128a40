//! The arithmetic of billing, free of I/O: billing periods, proration, meter estimates,
//! overage and the true-up of over-estimates. Every rule here is what a billing specialist
//! would otherwise do by hand, and each is unit-tested against the worked examples.
//!
//! Rounding: money rounds half-up to the currency's minor unit once per line; meter units
//! (estimates, prorated allowances) round half-up to whole units.

mod charges;
mod estimates;
mod periods;
mod proration;
mod usage;

pub use charges::*;
pub use estimates::*;
pub use periods::*;
pub use proration::*;
pub use usage::*;

#[cfg(test)]
mod tests;
