//! Typed media time: a tick count that always carries its timescale.

use std::cmp::Ordering;
use std::fmt;
use std::num::NonZeroU32;

/// Ticks per second of a track or a timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timescale(NonZeroU32);

impl Timescale {
    /// 90 kHz, the video and MPEG-TS clock.
    pub const MPEG: Timescale = Timescale(NonZeroU32::new(90_000).expect("non-zero"));
    /// Milliseconds, the RTMP/FLV clock.
    pub const MILLIS: Timescale = Timescale(NonZeroU32::new(1_000).expect("non-zero"));
    /// 10 MHz, the Smooth Streaming clock.
    pub const HNS: Timescale = Timescale(NonZeroU32::new(10_000_000).expect("non-zero"));

    /// A timescale of `ticks_per_second`, or `None` for zero.
    pub const fn new(ticks_per_second: u32) -> Option<Timescale> {
        match NonZeroU32::new(ticks_per_second) {
            Some(n) => Some(Timescale(n)),
            None => None,
        }
    }

    /// Ticks per second.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// A point or a duration on a media clock: `ticks / timescale` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaTime {
    pub ticks: i64,
    pub timescale: Timescale,
}

impl MediaTime {
    pub const fn new(ticks: i64, timescale: Timescale) -> MediaTime {
        MediaTime { ticks, timescale }
    }

    /// The same instant in another timescale, rounded to the nearest tick (halves away from zero).
    pub fn rescale(self, to: Timescale) -> MediaTime {
        MediaTime::new(rescale_ticks(self.ticks, self.timescale, to), to)
    }

    /// The same instant in another timescale, rounded down.
    pub fn rescale_floor(self, to: Timescale) -> MediaTime {
        let num = i128::from(self.ticks) * i128::from(to.get());
        let den = i128::from(self.timescale.get());
        MediaTime::new(clamp_i64(num.div_euclid(den)), to)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.ticks as f64 / f64::from(self.timescale.get())
    }

    /// Whole milliseconds, rounded down.
    pub fn as_millis(self) -> i64 {
        self.rescale_floor(Timescale::MILLIS).ticks
    }

    pub fn from_millis(ms: i64) -> MediaTime {
        MediaTime::new(ms, Timescale::MILLIS)
    }

    /// `self + other`, in `self`'s timescale.
    pub fn plus(self, other: MediaTime) -> MediaTime {
        MediaTime::new(
            self.ticks
                .saturating_add(other.rescale(self.timescale).ticks),
            self.timescale,
        )
    }

    /// `self - other`, in `self`'s timescale.
    pub fn minus(self, other: MediaTime) -> MediaTime {
        MediaTime::new(
            self.ticks
                .saturating_sub(other.rescale(self.timescale).ticks),
            self.timescale,
        )
    }
}

impl PartialOrd for MediaTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MediaTime {
    /// Compares the instants exactly, whatever the timescales.
    fn cmp(&self, other: &Self) -> Ordering {
        let a = i128::from(self.ticks) * i128::from(other.timescale.get());
        let b = i128::from(other.ticks) * i128::from(self.timescale.get());
        a.cmp(&b)
    }
}

impl fmt::Display for MediaTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.ticks, self.timescale.get())
    }
}

/// Converts a tick count between timescales, rounding to nearest.
pub fn rescale_ticks(ticks: i64, from: Timescale, to: Timescale) -> i64 {
    if from == to {
        return ticks;
    }
    let num = i128::from(ticks) * i128::from(to.get());
    let den = i128::from(from.get());
    let half = den / 2;
    let q = if num >= 0 {
        (num + half) / den
    } else {
        (num - half) / den
    };
    clamp_i64(q)
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Extends a wrapping 32-bit millisecond clock (RTMP, FLV) to 64 bits.
///
/// A step back of less than half the range is taken as a small reorder, not a wrap, so
/// out-of-order audio and video timestamps do not trigger a false wrap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wrapping32Extender {
    last: Option<i64>,
}

impl Wrapping32Extender {
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `raw`.
    pub fn extend(&mut self, raw: u32) -> i64 {
        let ext = match self.last {
            None => i64::from(raw),
            Some(last) => {
                let base = last & !0xFFFF_FFFF;
                let candidates = [base - (1 << 32), base, base + (1 << 32)];
                let mut best = base + i64::from(raw);
                for c in candidates {
                    let v = c + i64::from(raw);
                    if (v - last).abs() < (best - last).abs() {
                        best = v;
                    }
                }
                best
            }
        };
        self.last = Some(ext);
        ext
    }
}

/// A wall-clock instant, in milliseconds since the Unix epoch.
///
/// Only adapters read the clock; logic takes a `WallClock` as an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WallClock {
    pub unix_ms: i64,
}

impl WallClock {
    pub const fn from_unix_ms(unix_ms: i64) -> WallClock {
        WallClock { unix_ms }
    }

    /// The current system time (for adapters only).
    pub fn now() -> WallClock {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        WallClock { unix_ms: ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_to_nearest() {
        let t = MediaTime::new(1, Timescale::MILLIS);
        assert_eq!(t.rescale(Timescale::MPEG).ticks, 90);
        let a = MediaTime::new(1024, Timescale::new(48_000).expect("nz"));
        assert_eq!(a.rescale(Timescale::MPEG).ticks, 1920);
        let b = MediaTime::new(1024, Timescale::new(44_100).expect("nz"));
        assert_eq!(b.rescale(Timescale::MPEG).ticks, 2090);
        assert_eq!(
            MediaTime::new(-3, Timescale::MILLIS)
                .rescale(Timescale::MPEG)
                .ticks,
            -270
        );
    }

    #[test]
    fn compares_across_timescales() {
        let a = MediaTime::new(90_000, Timescale::MPEG);
        let b = MediaTime::new(1_000, Timescale::MILLIS);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert!(MediaTime::new(90_001, Timescale::MPEG) > b);
    }

    #[test]
    fn extends_32bit_wrap_and_tolerates_reorder() {
        let mut e = Wrapping32Extender::new();
        assert_eq!(e.extend(u32::MAX - 10), i64::from(u32::MAX - 10));
        assert_eq!(e.extend(5), (1i64 << 32) + 5);
        assert_eq!(e.extend(u32::MAX - 2), i64::from(u32::MAX - 2));
        assert_eq!(e.extend(20), (1i64 << 32) + 20);
        let mut f = Wrapping32Extender::new();
        assert_eq!(f.extend(1000), 1000);
        assert_eq!(f.extend(990), 990);
    }
}
