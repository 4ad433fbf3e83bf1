//! The files trapline reads and writes, below every other module: atomic output (or stdout), and JSON
//! with errors that name the place.

pub mod json;
pub mod output;
