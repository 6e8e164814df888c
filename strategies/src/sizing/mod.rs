//! The sizing strategies, each a [`SizingStrategy`](crate::SizingStrategy)
//! in a file of its own, and what they share: the limits every decision is
//! bounded by (`walrus.max`, the disk ceiling, `walrus.min_size`), the shrink
//! rule, and the WAL-target steering of the WAL-based strategies. The one list
//! of compiled strategies is `Strategy` (strategies/src/compiled.rs).

pub mod limits;
pub mod multiplicative;
pub mod shrink;
#[cfg(any(feature = "adaptive", feature = "percentile"))]
pub mod target;

#[cfg(feature = "adaptive")]
pub mod adaptive;
#[cfg(feature = "additive")]
pub mod additive;
#[cfg(feature = "example-strategy")]
pub mod example;
#[cfg(feature = "percentile")]
pub mod percentile;
