//! The run's duration, from the timestamps strace wrote (`-t`, `-tt`, `-ttt` or `-r`) when it wrote any.

use std::time::Duration;

use super::line::Stamp;

/// The run's duration from the log's timestamps, when it has any.
#[derive(Default)]
pub struct Clock {
    first: Option<Stamp>,
    last: Option<Stamp>,
    deltas: f64,
}

impl Clock {
    pub fn tick(&mut self, stamp: Option<Stamp>) {
        let Some(stamp) = stamp else {
            return;
        };
        if let Stamp::Delta(delta) = stamp {
            self.deltas += delta;
        }
        self.first.get_or_insert(stamp);
        self.last = Some(stamp);
    }

    /// To the microsecond, as a recording measures it.
    pub fn duration(&self) -> Duration {
        let seconds = match (self.first, self.last) {
            // Times of day: a run past midnight wraps once.
            (Some(Stamp::Clock(a)), Some(Stamp::Clock(b))) if b >= a => b - a,
            (Some(Stamp::Clock(a)), Some(Stamp::Clock(b))) => b + 86400.0 - a,
            (Some(Stamp::Epoch(a)), Some(Stamp::Epoch(b))) => (b - a).max(0.0),
            (Some(Stamp::Delta(_)), _) => self.deltas,
            _ => 0.0,
        };
        Duration::from_micros((seconds * 1e6).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_timestamps() {
        let mut clock = Clock::default();
        clock.tick(Some(Stamp::Clock(86399.5)));
        clock.tick(Some(Stamp::Clock(0.25)));
        assert_eq!(clock.duration(), Duration::from_millis(750));
        let mut clock = Clock::default();
        for _ in 0..4 {
            clock.tick(Some(Stamp::Delta(0.5)));
        }
        assert_eq!(clock.duration(), Duration::from_secs(2));
    }
}
