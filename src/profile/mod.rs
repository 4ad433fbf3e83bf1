//! Profiles: the OCI seccomp model, generation from traces, the runtime baselines and the explain report.

pub mod ambiguous;
pub mod compile;
pub mod denied;
pub mod deploy;
pub mod explain;
pub mod generate;
pub mod lint;
pub mod oci;
pub mod read;
pub mod risk;
pub mod runtime;
