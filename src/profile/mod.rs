//! Profiles: the OCI seccomp model, generation from traces, the runtime baselines, the explain report and how
//! complete the runs behind a profile are (coverage).

pub mod ambiguous;
pub mod compile;
pub mod coverage;
pub mod denied;
pub mod deploy;
pub mod explain;
pub mod generate;
pub mod groups;
pub mod lint;
pub mod oci;
pub mod reachable;
pub mod read;
pub mod risk;
pub mod runtime;
