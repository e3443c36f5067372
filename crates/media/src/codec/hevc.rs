//! H.265/HEVC: the sequence parameter set (ITU-T H.265 7.3.2.2) as far as manifests need it,
//! and the HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1, the `hvcC` payload).
//!
//! Frames of an HEVC track are length-prefixed NAL units, like AVC frames, with the prefix
//! length of the record. NAL unit headers are two bytes; the type is bits 1..=6 of the first.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::avc::take_from;
use crate::codec::bitreader::{nal_to_rbsp, BitReader};
use crate::error::MediaError;

const WHAT: &str = "HEVCDecoderConfigurationRecord";
const WHAT_SPS: &str = "H.265 SPS";

/// NAL unit type of a video parameter set.
pub const NAL_VPS: u8 = 32;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 34;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 35;
/// Largest picture dimension accepted, in luma samples; bigger is taken as corrupt.
pub const MAX_DIMENSION: u32 = 16_384;

/// The NAL unit type of an HEVC NAL unit (0 for an empty one).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |h| (h >> 1) & 0x3F)
}

/// Whether a NAL unit type is an IRAP picture (BLA, IDR or CRA: types 16 to 23), where
/// decoding can start.
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// H.265 sequence parameter set facts that manifests and sample entries need.
#[derive(Clone, Debug, PartialEq)]
pub struct HevcInfo {
    pub profile_space: u8,
    /// `general_tier_flag`: the High tier.
    pub tier_flag: bool,
    pub profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 in the most significant bit.
    pub profile_compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` on.
    pub constraint_indicator_flags: [u8; 6],
    pub level_idc: u8,
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Display width in luma samples, after the conformance window.
    pub width: u32,
    /// Display height in luma samples, after the conformance window.
    pub height: u32,
    /// Frames per second from the VUI timing info, when the encoder wrote it.
    pub frame_rate: Option<f64>,
}

/// H.265 decoder configuration: the HEVCDecoderConfigurationRecord and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct HevcConfig {
    /// The record exactly as received (the `hvcC` box payload).
    pub record: Bytes,
    /// Bytes of each NAL length prefix in frames (1, 2 or 4).
    pub nal_length_size: u8,
    /// Video parameter sets, NAL units without start code or length prefix.
    pub vps: Vec<Bytes>,
    /// Sequence parameter sets, likewise.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets, likewise.
    pub pps: Vec<Bytes>,
    /// Parsed from the first SPS.
    pub info: HevcInfo,
}

impl HevcConfig {
    /// The RFC 6381 codec string of ISO/IEC 14496-15 Annex E, such as `hvc1.1.6.L93.B0`:
    /// profile space and profile, the compatibility flags in reverse bit order, tier and
    /// level, then the constraint bytes without the trailing zero ones.
    pub fn codec_string(&self) -> String {
        let i = &self.info;
        let space = match i.profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let mut s = format!(
            "hvc1.{space}{}.{:X}.{}{}",
            i.profile_idc,
            i.profile_compatibility_flags.reverse_bits(),
            if i.tier_flag { 'H' } else { 'L' },
            i.level_idc
        );
        let used = i
            .constraint_indicator_flags
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |p| p + 1);
        for b in &i.constraint_indicator_flags[..used] {
            s.push_str(&format!(".{b:X}"));
        }
        s
    }

    /// All parameter sets in decoding order: VPS, SPS, PPS.
    pub fn parameter_sets(&self) -> impl Iterator<Item = &Bytes> {
        self.vps.iter().chain(&self.sps).chain(&self.pps)
    }

    /// Parses an HEVCDecoderConfigurationRecord (the `hvcC` payload, or the sequence start of
    /// an enhanced-RTMP `hvc1` video tag).
    ///
    /// Parameter sets are zero-copy slices of `record`; arrays of other NAL types (SEI) are
    /// skipped. `info` comes from the first SPS; a record without one is invalid.
    pub fn parse(record: Bytes) -> Result<HevcConfig, MediaError> {
        let mut pos = 0usize;
        let header = take(&record, &mut pos, 23)?;
        if header[0] != 1 {
            return Err(invalid(
                0,
                format!("configurationVersion {}, expected 1", header[0]),
            ));
        }
        let nal_length_size = match header[21] & 0x03 {
            0 => 1,
            1 => 2,
            3 => 4,
            _ => {
                return Err(invalid(
                    21,
                    "lengthSizeMinusOne 2 (3-byte NAL lengths are not allowed)",
                ))
            }
        };
        let arrays = header[22];
        let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        let mut first_sps_at = 0;
        for _ in 0..arrays {
            let kind = take(&record, &mut pos, 3)?;
            let nal_kind = kind[0] & 0x3F;
            let count = usize::from(u16::from_be_bytes([kind[1], kind[2]]));
            for _ in 0..count {
                let len_bytes = take(&record, &mut pos, 2)?;
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                let at = pos;
                take(&record, &mut pos, len)?;
                let nal = record.slice(at..at + len);
                match nal_kind {
                    NAL_VPS => vps.push(nal),
                    NAL_SPS => {
                        if sps.is_empty() {
                            first_sps_at = at;
                        }
                        sps.push(nal)
                    }
                    NAL_PPS => pps.push(nal),
                    _ => {}
                }
            }
        }
        let Some(first_sps) = sps.first() else {
            return Err(invalid(22, "the record holds no SPS"));
        };
        let info = parse_sps(first_sps).map_err(|e| e.shifted(first_sps_at))?;
        Ok(HevcConfig {
            record,
            nal_length_size,
            vps,
            sps,
            pps,
            info,
        })
    }

    /// Builds a record with 4-byte NAL lengths from one VPS, SPS and PPS NAL unit each (with
    /// their NAL headers, without start codes), as MPEG-TS ingest finds them in the stream.
    /// The profile, tier, level, chroma format and bit depths come from the SPS.
    pub fn build_record(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<HevcConfig, MediaError> {
        let info = parse_sps(sps)?;
        for (nal, expected, what) in [(vps, NAL_VPS, "H.265 VPS"), (pps, NAL_PPS, "H.265 PPS")] {
            if nal.len() < 2 || nal_type(nal) != expected {
                return Err(MediaError::Invalid {
                    what,
                    offset: 0,
                    reason: format!("NAL unit type {}, expected {expected}", nal_type(nal)),
                });
            }
        }
        let mut out = BytesMut::with_capacity(23 + 15 + vps.len() + sps.len() + pps.len());
        out.put_u8(1);
        out.put_u8((info.profile_space << 6) | (u8::from(info.tier_flag) << 5) | info.profile_idc);
        out.put_u32(info.profile_compatibility_flags);
        out.put_slice(&info.constraint_indicator_flags);
        out.put_u8(info.level_idc);
        out.put_u16(0xF000); // min_spatial_segmentation_idc 0
        out.put_u8(0xFC); // parallelismType 0 (unknown)
        out.put_u8(0xFC | info.chroma_format_idc);
        out.put_u8(0xF8 | (info.bit_depth_luma - 8));
        out.put_u8(0xF8 | (info.bit_depth_chroma - 8));
        out.put_u16(0); // avgFrameRate unspecified
                        // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
        out.put_u8(
            ((info.max_sub_layers & 0x07) << 3) | (u8::from(info.temporal_id_nesting) << 2) | 0x03,
        );
        out.put_u8(3);
        for (kind, nal) in [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)] {
            let len = u16::try_from(nal.len()).map_err(|_| {
                invalid(
                    0,
                    format!("parameter set of {} bytes is too long", nal.len()),
                )
            })?;
            out.put_u8(0x80 | kind); // array_completeness: all of this type are here
            out.put_u16(1);
            out.put_u16(len);
            out.put_slice(nal);
        }
        HevcConfig::parse(out.freeze())
    }
}

/// Parses an SPS NAL unit, two-byte NAL header included.
///
/// Width, height, profile and level are required; the frame rate is best effort (the VUI
/// sits behind the reference picture sets, and a damaged tail only loses the rate).
pub fn parse_sps(nal: &[u8]) -> Result<HevcInfo, MediaError> {
    let Some(header) = nal.get(..2) else {
        return Err(MediaError::Truncated {
            what: WHAT_SPS,
            offset: 0,
            needed: 2,
            available: nal.len(),
        });
    };
    if header[0] & 0x80 != 0 {
        return Err(sps_invalid(0, "forbidden_zero_bit is set"));
    }
    if nal_type(header) != NAL_SPS {
        return Err(sps_invalid(
            0,
            format!("NAL unit type {}, expected {NAL_SPS}", nal_type(header)),
        ));
    }
    let rbsp = nal_to_rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::with_context(&rbsp, WHAT_SPS, 2);
    r.read_bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.read_bits(3)? as u8;
    if max_sub_layers_minus1 > 6 {
        return Err(r.invalid("sps_max_sub_layers_minus1 7 is reserved"));
    }
    let temporal_id_nesting = r.read_bit()?;

    // profile_tier_level(1, sps_max_sub_layers_minus1)
    let profile_space = r.read_bits(2)? as u8;
    let tier_flag = r.read_bit()?;
    let profile_idc = r.read_bits(5)? as u8;
    let profile_compatibility_flags = r.read_bits(32)?;
    let mut constraint_indicator_flags = [0u8; 6];
    for b in &mut constraint_indicator_flags {
        *b = r.read_u8()?;
    }
    let level_idc = r.read_u8()?;
    let mut sub_layer = [(false, false); 7];
    for s in sub_layer
        .iter_mut()
        .take(usize::from(max_sub_layers_minus1))
    {
        *s = (r.read_bit()?, r.read_bit()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.skip_bits(2 * (8 - usize::from(max_sub_layers_minus1)))?;
    }
    for &(profile, level) in sub_layer.iter().take(usize::from(max_sub_layers_minus1)) {
        if profile {
            r.skip_bits(88)?;
        }
        if level {
            r.skip_bits(8)?;
        }
    }

    let sps_id = r.read_ue()?;
    if sps_id > 15 {
        return Err(r.invalid(format!("sps_seq_parameter_set_id {sps_id} > 15")));
    }
    let chroma_format_idc = r.read_ue()?;
    if chroma_format_idc > 3 {
        return Err(r.invalid(format!("chroma_format_idc {chroma_format_idc} > 3")));
    }
    let chroma_format_idc = chroma_format_idc as u8;
    let separate_colour_plane = chroma_format_idc == 3 && r.read_bit()?;
    let coded_width = r.read_ue()?;
    let coded_height = r.read_ue()?;
    if coded_width == 0
        || coded_height == 0
        || coded_width > MAX_DIMENSION
        || coded_height > MAX_DIMENSION
    {
        return Err(r.invalid(format!(
            "picture size {coded_width}x{coded_height} is outside 1..={MAX_DIMENSION}"
        )));
    }
    let (mut width, mut height) = (coded_width, coded_height);
    if r.read_bit()? {
        // Conformance window offsets count chroma samples (Table 6-1).
        let chroma = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let sub_width = if chroma == 1 || chroma == 2 { 2 } else { 1 };
        let sub_height = if chroma == 1 { 2 } else { 1 };
        let (left, right, top, bottom) = (r.read_ue()?, r.read_ue()?, r.read_ue()?, r.read_ue()?);
        let crop_w = (u64::from(left) + u64::from(right)) * sub_width;
        let crop_h = (u64::from(top) + u64::from(bottom)) * sub_height;
        if crop_w >= u64::from(coded_width) || crop_h >= u64::from(coded_height) {
            return Err(r.invalid("the conformance window leaves no picture"));
        }
        width = coded_width - crop_w as u32;
        height = coded_height - crop_h as u32;
    }
    let luma = r.read_ue()?;
    let chroma = r.read_ue()?;
    if luma > 8 || chroma > 8 {
        return Err(r.invalid(format!(
            "bit depths {} and {} beyond 16",
            u64::from(luma) + 8,
            u64::from(chroma) + 8
        )));
    }
    let mut info = HevcInfo {
        profile_space,
        tier_flag,
        profile_idc,
        profile_compatibility_flags,
        constraint_indicator_flags,
        level_idc,
        max_sub_layers: max_sub_layers_minus1 + 1,
        temporal_id_nesting,
        chroma_format_idc,
        bit_depth_luma: 8 + luma as u8,
        bit_depth_chroma: 8 + chroma as u8,
        width,
        height,
        frame_rate: None,
    };
    info.frame_rate = frame_rate_after_bit_depths(&mut r, max_sub_layers_minus1)
        .ok()
        .flatten();
    Ok(info)
}

/// Reads from `log2_max_pic_order_cnt_lsb_minus4` to the VUI timing info and returns the
/// frame rate it gives, if any.
fn frame_rate_after_bit_depths(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u8,
) -> Result<Option<f64>, MediaError> {
    let log2_max_poc_lsb = r.read_ue()? + 4;
    if log2_max_poc_lsb > 16 {
        return Err(r.invalid("log2_max_pic_order_cnt_lsb_minus4 > 12"));
    }
    let ordering_info_for_all = r.read_bit()?;
    let first = if ordering_info_for_all {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        r.read_ue()?; // sps_max_dec_pic_buffering_minus1
        r.read_ue()?; // sps_max_num_reorder_pics
        r.read_ue()?; // sps_max_latency_increase_plus1
    }
    for _ in 0..6 {
        // log2_min_luma_coding_block_size_minus3 to max_transform_hierarchy_depth_intra
        r.read_ue()?;
    }
    if r.read_bit()? && r.read_bit()? {
        skip_scaling_list_data(r)?;
    }
    r.read_bit()?; // amp_enabled_flag
    r.read_bit()?; // sample_adaptive_offset_enabled_flag
    if r.read_bit()? {
        // pcm: two bit depths, two sizes, loop filter flag
        r.skip_bits(8)?;
        r.read_ue()?;
        r.read_ue()?;
        r.read_bit()?;
    }
    let sets = r.read_ue()?;
    if sets > 64 {
        return Err(r.invalid(format!("num_short_term_ref_pic_sets {sets} > 64")));
    }
    let mut delta_pocs: Vec<u32> = Vec::with_capacity(sets as usize);
    for idx in 0..sets as usize {
        let n = skip_st_ref_pic_set(r, idx, &delta_pocs)?;
        delta_pocs.push(n);
    }
    if r.read_bit()? {
        let n = r.read_ue()?;
        if n > 32 {
            return Err(r.invalid(format!("num_long_term_ref_pics_sps {n} > 32")));
        }
        r.skip_bits(n as usize * (log2_max_poc_lsb as usize + 1))?;
    }
    r.read_bit()?; // sps_temporal_mvp_enabled_flag
    r.read_bit()?; // strong_intra_smoothing_enabled_flag
    if !r.read_bit()? {
        return Ok(None); // no VUI
    }
    if r.read_bit()? && r.read_u8()? == 255 {
        r.skip_bits(32)?; // sar_width, sar_height
    }
    if r.read_bit()? {
        r.read_bit()?; // overscan_appropriate_flag
    }
    if r.read_bit()? {
        r.skip_bits(4)?; // video_format, video_full_range_flag
        if r.read_bit()? {
            r.skip_bits(24)?; // colour primaries, transfer, matrix
        }
    }
    if r.read_bit()? {
        r.read_ue()?;
        r.read_ue()?;
    }
    r.skip_bits(3)?; // neutral_chroma_indication, field_seq, frame_field_info_present
    if r.read_bit()? {
        for _ in 0..4 {
            r.read_ue()?; // default display window offsets
        }
    }
    if !r.read_bit()? {
        return Ok(None);
    }
    let num_units_in_tick = r.read_bits(32)?;
    let time_scale = r.read_bits(32)?;
    Ok((num_units_in_tick != 0 && time_scale != 0)
        .then(|| f64::from(time_scale) / f64::from(num_units_in_tick)))
}

/// Reads past scaling_list_data() (7.3.4).
fn skip_scaling_list_data(r: &mut BitReader<'_>) -> Result<(), MediaError> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.read_bit()? {
                r.read_ue()?; // scaling_list_pred_matrix_id_delta
                continue;
            }
            let coefs = 64.min(1u32 << (4 + (size_id << 1)));
            if size_id > 1 {
                r.read_se()?; // scaling_list_dc_coef_minus8
            }
            for _ in 0..coefs {
                r.read_se()?;
            }
        }
    }
    Ok(())
}

/// Reads past st_ref_pic_set(idx) (7.3.7) in an SPS and returns its NumDeltaPocs.
fn skip_st_ref_pic_set(
    r: &mut BitReader<'_>,
    idx: usize,
    delta_pocs: &[u32],
) -> Result<u32, MediaError> {
    if idx > 0 && r.read_bit()? {
        // Predicted from the previous set (delta_idx_minus1 is only in slice headers).
        r.read_bit()?; // delta_rps_sign
        r.read_ue()?; // abs_delta_rps_minus1
        let reference = delta_pocs.get(idx - 1).copied().unwrap_or(0);
        let mut n = 0;
        for _ in 0..=reference {
            let used = r.read_bit()?;
            if used || r.read_bit()? {
                n += 1;
            }
        }
        return Ok(n);
    }
    let negative = r.read_ue()?;
    let positive = r.read_ue()?;
    if negative > 16 || positive > 16 {
        return Err(r.invalid("more than 16 reference pictures in a set"));
    }
    for _ in 0..negative + positive {
        r.read_ue()?; // delta_poc_sN_minus1
        r.read_bit()?; // used_by_curr_pic_sN_flag
    }
    Ok(negative + positive)
}

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], MediaError> {
    take_from(data, pos, n, WHAT)
}

fn invalid(offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what: WHAT,
        offset,
        reason: reason.into(),
    }
}

fn sps_invalid(offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what: WHAT_SPS,
        offset,
        reason: reason.into(),
    }
}

#[cfg(test)]
#[path = "hevc_tests.rs"]
mod tests;
