//! The run id of an imported log: a hash of its bytes, so that the same log imported twice is the same run.

/// FNV-1a over the log's bytes: the run's id. The same log imported twice is the same run, which `merge`
/// then counts once; any other log is, for all practical purposes, another run.
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
