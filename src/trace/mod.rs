//! The Trace model, its aggregation from live calls, merging, reading it back, and the run record.

pub mod aggregate;
pub mod merge;
pub mod model;
pub mod read;
pub mod run;

pub use aggregate::{Aggregator, EventSink};
pub use model::Trace;
