//! Which container engines carry a profile's `listenerPath` through to the runtime, from their sources:
//! Docker 20.10 copies only the fields its own profile type knows (moby added `listenerPath` in June 2021,
//! first released in 23.0.0); containerd 1.6 and later unmarshal the profile into the runtime-spec type
//! (1.5 vendors a runtime-spec from before the field); CRI-O reads profiles with containers/common, which
//! copies the field since v0.48.0 (CRI-O 1.25.0; 1.24 vendors v0.46), and so does Podman (4.3 checked).

/// Said wherever a profile notifies syscalls to an agent: by `lint` and by `profile --recording`.
pub const LISTENER_DROPPED: &str = "Docker before 23.0 (20.10 included), containerd before 1.6 and CRI-O \
    before 1.25 drop listenerPath but keep the SCMP_ACT_NOTIFY rules: runc then refuses the container \
    (\"listenerPath is not set\") or, where runc init's own calls are notified (as in the recording profile), \
    blocks in the first one and the container stays in \"Created\"; Docker 23.0+, containerd 1.6+ \
    (ctr --seccomp-profile and CRI Localhost profiles), CRI-O 1.25+ and Podman 4.3+ pass it on to runc 1.1+ \
    or crun 0.19+. \
    Under the older engines `trapline agent` cannot record: record through the runtime instead \
    (`trapline runtime` as the engine's runc, or `trapline record --container`; docs/containers.md)";
