//! Program specific information: the PAT and PMT of program 1, and their CRC.

use super::{AUDIO_PID, PACKET_SIZE, PMT_PID, VIDEO_PID};

const PAT_PID: u16 = 0;
const PROGRAM_NUMBER: u16 = 1;
const TRANSPORT_STREAM_ID: u16 = 1;
/// PCR_PID when no PID carries a PCR.
const NO_PCR_PID: u16 = 0x1FFF;
pub(crate) const STREAM_TYPE_H264: u8 = 0x1B;
pub(crate) const STREAM_TYPE_ADTS_AAC: u8 = 0x0F;
pub(crate) const STREAM_TYPE_H265: u8 = 0x24;

/// Writes the PAT (program 1 on [`PMT_PID`]) as one packet with continuity counter `cc`.
pub(crate) fn write_pat(out: &mut Vec<u8>, cc: u8) {
    let mut s = [0u8; 16];
    s[0] = 0x00; // table_id: program_association_section
    s[3..5].copy_from_slice(&TRANSPORT_STREAM_ID.to_be_bytes());
    s[5] = 0xC1; // reserved, version 0, current_next_indicator
    s[8..10].copy_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    s[10..12].copy_from_slice(&(0xE000 | PMT_PID).to_be_bytes());
    finish_section(&mut s);
    write_section_packet(out, PAT_PID, cc, &s);
}

/// Writes the PMT of program 1, listing the tracks that exist (video with its stream type),
/// with continuity counter `cc`.
pub(crate) fn write_pmt(out: &mut Vec<u8>, cc: u8, video: Option<u8>, audio: bool) {
    let mut s = [0u8; 12 + 2 * 5 + 4];
    s[0] = 0x02; // table_id: TS_program_map_section
    s[3..5].copy_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    s[5] = 0xC1;
    let pcr_pid = if video.is_some() {
        VIDEO_PID
    } else if audio {
        AUDIO_PID
    } else {
        NO_PCR_PID
    };
    s[8..10].copy_from_slice(&(0xE000 | pcr_pid).to_be_bytes());
    s[10..12].copy_from_slice(&0xF000u16.to_be_bytes()); // program_info_length 0
    let mut len = 12;
    for (present, stream_type, pid) in [
        (
            video.is_some(),
            video.unwrap_or(STREAM_TYPE_H264),
            VIDEO_PID,
        ),
        (audio, STREAM_TYPE_ADTS_AAC, AUDIO_PID),
    ] {
        if present {
            s[len] = stream_type;
            s[len + 1..len + 3].copy_from_slice(&(0xE000 | pid).to_be_bytes());
            s[len + 3..len + 5].copy_from_slice(&0xF000u16.to_be_bytes()); // ES_info_length 0
            len += 5;
        }
    }
    let section = &mut s[..len + 4];
    finish_section(section);
    write_section_packet(out, PMT_PID, cc, section);
}

/// Fills in section_length (with the syntax indicator) and the CRC of a whole section.
fn finish_section(section: &mut [u8]) {
    let n = section.len();
    let section_length = (n - 3) as u16;
    section[1..3].copy_from_slice(&(0xB000 | section_length).to_be_bytes());
    let crc = crc32_mpeg2(&section[..n - 4]);
    section[n - 4..].copy_from_slice(&crc.to_be_bytes());
}

/// One packet holding a whole section after a zero pointer_field, padded with 0xFF.
fn write_section_packet(out: &mut Vec<u8>, pid: u16, cc: u8, section: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[
        0x47,
        0x40 | ((pid >> 8) as u8 & 0x1F),
        pid as u8,
        0x10 | (cc & 0x0F),
        0x00,
    ]);
    out.extend_from_slice(section);
    out.resize(start + PACKET_SIZE, 0xFF);
}

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, initial value all ones, no reflection, no final xor.
pub(crate) fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_catalogue_check_value() {
        // reveng catalogue, CRC-32/MPEG-2: check = 0x0376E6E7 over "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn pat_matches_ffmpeg_bytes() {
        // ffmpeg's PAT for program 1, PMT PID 0x1000, transport_stream_id 1.
        let mut out = Vec::new();
        write_pat(&mut out, 0);
        assert_eq!(
            out[..21],
            [
                0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00,
                0x01, 0xF0, 0x00, 0x2A, 0xB1, 0x04, 0xB2
            ]
        );
        assert!(out[21..].iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn pmt_lists_present_tracks_and_pcr_pid() {
        for (video, audio, streams, pcr) in [
            (
                true,
                true,
                vec![(0x1B, VIDEO_PID), (0x0F, AUDIO_PID)],
                VIDEO_PID,
            ),
            (true, false, vec![(0x1B, VIDEO_PID)], VIDEO_PID),
            (false, true, vec![(0x0F, AUDIO_PID)], AUDIO_PID),
        ] {
            let mut out = Vec::new();
            write_pmt(&mut out, 9, video.then_some(0x1B), audio);
            assert_eq!(out.len(), PACKET_SIZE);
            assert_eq!(u16::from_be_bytes([out[1], out[2]]), 0x4000 | PMT_PID);
            assert_eq!(out[3], 0x19);
            let s = &out[5..];
            let len = usize::from(u16::from_be_bytes([s[1], s[2]]) & 0x0FFF);
            let section = &s[..3 + len];
            assert_eq!(
                crc32_mpeg2(section),
                0,
                "CRC over a section with its CRC is 0"
            );
            assert_eq!(u16::from_be_bytes([s[8], s[9]]) & 0x1FFF, pcr);
            let found: Vec<(u8, u16)> = section[12..section.len() - 4]
                .chunks(5)
                .map(|e| (e[0], u16::from_be_bytes([e[1], e[2]]) & 0x1FFF))
                .collect();
            assert_eq!(found, streams);
        }
    }
}
