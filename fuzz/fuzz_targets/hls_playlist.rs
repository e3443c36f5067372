//! Arbitrary bytes as the playlists an HLS pull reads, one after another (split at a `\0`):
//! m3u8-rs parses each; a multivariant playlist goes through the variant choice (with and
//! without a bandwidth limit), a media playlist through the live window that decides what to
//! fetch. Nothing may panic; the window only hands out each media sequence number once per
//! timeline and in increasing order.
#![no_main]

use ingest::pull::hls::{choose_variant, LiveWindow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut window = LiveWindow::new();
    let mut last: Option<u64> = None;
    for part in data.split(|&b| b == 0).take(8) {
        match m3u8_rs::parse_playlist_res(part) {
            Ok(m3u8_rs::Playlist::MasterPlaylist(master)) => {
                let _ = choose_variant(&master, None);
                if let Ok(v) = choose_variant(&master, Some(500_000)) {
                    assert!(v.bandwidth <= 500_000);
                }
            }
            Ok(m3u8_rs::Playlist::MediaPlaylist(media)) => {
                let update = window.update(&media);
                if update.restarted {
                    last = None;
                }
                for s in &update.segments {
                    if let Some(l) = last {
                        assert!(s.sequence > l || s.discontinuity, "{} after {l}", s.sequence);
                    }
                    last = Some(s.sequence);
                }
            }
            Err(_) => {}
        }
    }
});
