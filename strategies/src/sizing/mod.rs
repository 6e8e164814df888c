//! The sizing strategies, each a [`SizingStrategy`](crate::SizingStrategy)
//! in a file of its own, and what they share: the limits every decision is
//! bounded by (`walrus.max`, the disk ceiling, `walrus.min_size`), the shrink
//! rule, and the WAL-target steering of the WAL-based strategies. The one list
//! of compiled strategies is `Strategy` (strategies/src/compiled.rs).

pub(crate) mod limits;
pub(crate) mod multiplicative;
pub(crate) mod shrink;
#[cfg(any(feature = "adaptive", feature = "percentile"))]
pub(crate) mod target;

#[cfg(feature = "adaptive")]
pub(crate) mod adaptive;
#[cfg(feature = "additive")]
pub(crate) mod additive;
#[cfg(feature = "example-strategy")]
pub(crate) mod example;
#[cfg(feature = "percentile")]
pub(crate) mod percentile;
