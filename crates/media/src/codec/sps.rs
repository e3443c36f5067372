//! H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1) and the VUI fields up to timing info (E.1.1).
//!
//! [`parse_sps`] gives the facts manifests need ([`SpsInfo`]); [`SequenceParameterSet::parse`]
//! keeps every field it read, for callers that need more (chroma format, bit depth, SAR).

use crate::codec::bitreader::{nal_to_rbsp, BitReader};
use crate::codec::SpsInfo;
use crate::error::MediaError;

const WHAT: &str = "H.264 SPS";

/// NAL unit type of a sequence parameter set.
pub const NAL_TYPE_SPS: u8 = 7;

/// Largest picture dimension accepted, in macroblocks (32768 pixels); bigger is taken as corrupt.
pub const MAX_DIMENSION_MBS: u32 = 2048;

/// Profiles whose SPS carries chroma format, bit depths and scaling lists.
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// The `SampleAspectRatio` of aspect_ratio_idc 1 to 16 (Table E-1).
const SAR_TABLE: [(u16, u16); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// Parses an SPS NAL unit (starting with its one-byte NAL header) into the facts manifests need.
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, MediaError> {
    SequenceParameterSet::parse(nal).map(|sps| sps.info())
}

/// The frame cropping rectangle offsets, in the units of the SPS (CropUnitX/CropUnitY).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCropping {
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
}

/// colour_primaries, transfer_characteristics, matrix_coefficients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColourDescription {
    pub colour_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
}

/// video_format, video_full_range_flag and the optional colour description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoSignalType {
    pub video_format: u8,
    pub full_range: bool,
    pub colour: Option<ColourDescription>,
}

/// num_units_in_tick, time_scale, fixed_frame_rate_flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimingInfo {
    pub num_units_in_tick: u32,
    pub time_scale: u32,
    pub fixed_frame_rate: bool,
}

impl TimingInfo {
    /// Frames per second, `time_scale / (2 * num_units_in_tick)`, when both are non-zero.
    pub fn frame_rate(&self) -> Option<f64> {
        if self.num_units_in_tick == 0 || self.time_scale == 0 {
            return None;
        }
        Some(f64::from(self.time_scale) / (2.0 * f64::from(self.num_units_in_tick)))
    }
}

/// The VUI fields up to and including timing info; `None` where the flag said absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vui {
    /// aspect_ratio_idc when present (255 = explicit SAR).
    pub aspect_ratio_idc: Option<u8>,
    /// The sample aspect ratio, from the table or explicit; `None` when unspecified or reserved.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    pub overscan_appropriate: Option<bool>,
    pub video_signal_type: Option<VideoSignalType>,
    /// chroma_sample_loc_type_top_field, chroma_sample_loc_type_bottom_field.
    pub chroma_sample_loc: Option<(u32, u32)>,
    pub timing: Option<TimingInfo>,
    /// The VUI ended early or held an invalid value; fields after that point are `None`.
    /// Decoders (FFmpeg among them) tolerate this, so the SPS is still accepted.
    pub truncated: bool,
}

/// Every SPS field Headwater reads, with the display size derived from them.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceParameterSet {
    pub profile_idc: u8,
    /// constraint_set0..5 flags and the two reserved bits, as the byte after profile_idc.
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub seq_parameter_set_id: u32,
    /// 0 monochrome, 1 4:2:0 (the default), 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub qpprime_y_zero_transform_bypass: bool,
    pub seq_scaling_matrix_present: bool,
    pub log2_max_frame_num: u8,
    pub pic_order_cnt_type: u8,
    /// Present when pic_order_cnt_type is 0.
    pub log2_max_pic_order_cnt_lsb: Option<u8>,
    /// Present when pic_order_cnt_type is 1.
    pub num_ref_frames_in_pic_order_cnt_cycle: Option<u32>,
    pub max_num_ref_frames: u32,
    pub gaps_in_frame_num_allowed: bool,
    pub pic_width_in_mbs: u32,
    pub pic_height_in_map_units: u32,
    pub frame_mbs_only: bool,
    pub mb_adaptive_frame_field: bool,
    pub direct_8x8_inference: bool,
    pub frame_cropping: Option<FrameCropping>,
    pub vui: Option<Vui>,
    /// Display width in pixels, after cropping.
    pub width: u32,
    /// Display height in pixels, after cropping.
    pub height: u32,
}

impl SequenceParameterSet {
    /// Parses an SPS NAL unit, one-byte NAL header included.
    ///
    /// Error offsets count bytes of the NAL unit after emulation-prevention bytes are removed,
    /// so they can lag the raw offset by the number of such bytes before the error.
    pub fn parse(nal: &[u8]) -> Result<SequenceParameterSet, MediaError> {
        let Some((&header, payload)) = nal.split_first() else {
            return Err(MediaError::Truncated {
                what: WHAT,
                offset: 0,
                needed: 1,
                available: 0,
            });
        };
        if header & 0x80 != 0 {
            return Err(invalid(0, "forbidden_zero_bit is set"));
        }
        let nal_type = header & 0x1F;
        if nal_type != NAL_TYPE_SPS {
            return Err(invalid(
                0,
                format!("NAL unit type {nal_type}, expected {NAL_TYPE_SPS}"),
            ));
        }
        let rbsp = nal_to_rbsp(payload);
        let mut r = BitReader::with_context(&rbsp, WHAT, 1);

        let profile_idc = r.read_u8()?;
        let constraint_flags = r.read_u8()?;
        let level_idc = r.read_u8()?;
        let seq_parameter_set_id = r.read_ue()?;
        if seq_parameter_set_id > 31 {
            return Err(r.invalid(format!("seq_parameter_set_id {seq_parameter_set_id} > 31")));
        }

        let mut chroma_format_idc = 1u8;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8u8;
        let mut bit_depth_chroma = 8u8;
        let mut qpprime_y_zero_transform_bypass = false;
        let mut seq_scaling_matrix_present = false;
        if HIGH_PROFILES.contains(&profile_idc) {
            let v = r.read_ue()?;
            chroma_format_idc = small(&r, v, 3, "chroma_format_idc")?;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.read_bit()?;
            }
            let luma = r.read_ue()?;
            bit_depth_luma = 8 + small(&r, luma, 6, "bit_depth_luma_minus8")?;
            let chroma = r.read_ue()?;
            bit_depth_chroma = 8 + small(&r, chroma, 6, "bit_depth_chroma_minus8")?;
            qpprime_y_zero_transform_bypass = r.read_bit()?;
            seq_scaling_matrix_present = r.read_bit()?;
            if seq_scaling_matrix_present {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.read_bit()? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }

        let v = r.read_ue()?;
        let log2_max_frame_num = 4 + small(&r, v, 12, "log2_max_frame_num_minus4")?;
        let v = r.read_ue()?;
        let pic_order_cnt_type = small(&r, v, 2, "pic_order_cnt_type")?;
        let mut log2_max_pic_order_cnt_lsb = None;
        let mut num_ref_frames_in_pic_order_cnt_cycle = None;
        match pic_order_cnt_type {
            0 => {
                let v = r.read_ue()?;
                log2_max_pic_order_cnt_lsb =
                    Some(4 + small(&r, v, 12, "log2_max_pic_order_cnt_lsb_minus4")?);
            }
            1 => {
                r.read_bit()?; // delta_pic_order_always_zero_flag
                r.read_se()?; // offset_for_non_ref_pic
                r.read_se()?; // offset_for_top_to_bottom_field
                let cycle = r.read_ue()?;
                if cycle > 255 {
                    return Err(r.invalid(format!(
                        "num_ref_frames_in_pic_order_cnt_cycle {cycle} > 255"
                    )));
                }
                for _ in 0..cycle {
                    r.read_se()?; // offset_for_ref_frame[i]
                }
                num_ref_frames_in_pic_order_cnt_cycle = Some(cycle);
            }
            _ => {}
        }
        let max_num_ref_frames = r.read_ue()?;
        let gaps_in_frame_num_allowed = r.read_bit()?;
        let pic_width_in_mbs = dimension(&mut r, "pic_width_in_mbs_minus1")?;
        let pic_height_in_map_units = dimension(&mut r, "pic_height_in_map_units_minus1")?;
        let frame_mbs_only = r.read_bit()?;
        let mb_adaptive_frame_field = if frame_mbs_only { false } else { r.read_bit()? };
        let direct_8x8_inference = r.read_bit()?;
        let crop_offset = r.byte_offset();
        let frame_cropping = if r.read_bit()? {
            Some(FrameCropping {
                left: r.read_ue()?,
                right: r.read_ue()?,
                top: r.read_ue()?,
                bottom: r.read_ue()?,
            })
        } else {
            None
        };
        let vui = if r.read_bit()? {
            Some(parse_vui(&mut r))
        } else {
            None
        };

        // Display size (7.4.2.1.1): coded size minus the cropping, in crop units.
        let frame_height_factor: u64 = if frame_mbs_only { 1 } else { 2 };
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (crop_unit_x, crop_unit_y): (u64, u64) = match chroma_array_type {
            0 => (1, frame_height_factor),
            1 => (2, 2 * frame_height_factor),
            2 => (2, frame_height_factor),
            _ => (1, frame_height_factor),
        };
        let coded_width = u64::from(pic_width_in_mbs) * 16;
        let coded_height = frame_height_factor * u64::from(pic_height_in_map_units) * 16;
        if coded_height > u64::from(MAX_DIMENSION_MBS) * 16 {
            return Err(invalid(
                crop_offset,
                format!("frame height {coded_height} pixels is beyond the supported maximum"),
            ));
        }
        let crop = frame_cropping.unwrap_or_default();
        let crop_x = crop_unit_x * (u64::from(crop.left) + u64::from(crop.right));
        let crop_y = crop_unit_y * (u64::from(crop.top) + u64::from(crop.bottom));
        if crop_x >= coded_width || crop_y >= coded_height {
            return Err(invalid(
                crop_offset,
                format!(
                    "frame cropping {crop:?} leaves nothing of the {coded_width}x{coded_height} picture"
                ),
            ));
        }
        // Both are at most 32768 here.
        let width = (coded_width - crop_x) as u32;
        let height = (coded_height - crop_y) as u32;

        Ok(SequenceParameterSet {
            profile_idc,
            constraint_flags,
            level_idc,
            seq_parameter_set_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            qpprime_y_zero_transform_bypass,
            seq_scaling_matrix_present,
            log2_max_frame_num,
            pic_order_cnt_type,
            log2_max_pic_order_cnt_lsb,
            num_ref_frames_in_pic_order_cnt_cycle,
            max_num_ref_frames,
            gaps_in_frame_num_allowed,
            pic_width_in_mbs,
            pic_height_in_map_units,
            frame_mbs_only,
            mb_adaptive_frame_field,
            direct_8x8_inference,
            frame_cropping,
            vui,
            width,
            height,
        })
    }

    /// Frames per second from the VUI timing info, when present and non-zero.
    pub fn frame_rate(&self) -> Option<f64> {
        self.vui.as_ref()?.timing?.frame_rate()
    }

    /// The facts manifests need.
    pub fn info(&self) -> SpsInfo {
        SpsInfo {
            profile_idc: self.profile_idc,
            constraint_flags: self.constraint_flags,
            level_idc: self.level_idc,
            width: self.width,
            height: self.height,
            frame_rate: self.frame_rate(),
        }
    }
}

fn invalid(offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what: WHAT,
        offset,
        reason: reason.into(),
    }
}

/// `value` as a u8 if it is at most `max`, else an error naming `field`.
fn small(r: &BitReader<'_>, value: u32, max: u8, field: &str) -> Result<u8, MediaError> {
    match u8::try_from(value) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(r.invalid(format!("{field} {value} > {max}"))),
    }
}

/// Reads a `*_minus1` size in macroblocks and returns it plus one, bounded by [`MAX_DIMENSION_MBS`].
fn dimension(r: &mut BitReader<'_>, field: &str) -> Result<u32, MediaError> {
    let v = r.read_ue()?;
    if v >= MAX_DIMENSION_MBS {
        return Err(r.invalid(format!("{field} {v} is beyond the supported maximum")));
    }
    Ok(v + 1)
}

/// Reads past one scaling_list() of `size` entries (7.3.2.1.1.1).
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), MediaError> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.read_se()?;
            if !(-128..=127).contains(&delta) {
                return Err(r.invalid(format!("delta_scale {delta} outside -128..=127")));
            }
            next_scale = (last_scale + delta + 256) % 256;
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// Reads the VUI up to timing info; stops at the first error and marks the result truncated.
fn parse_vui(r: &mut BitReader<'_>) -> Vui {
    let mut vui = Vui::default();
    if read_vui_fields(r, &mut vui).is_err() {
        vui.truncated = true;
    }
    vui
}

fn read_vui_fields(r: &mut BitReader<'_>, vui: &mut Vui) -> Result<(), MediaError> {
    if r.read_bit()? {
        let idc = r.read_u8()?;
        vui.aspect_ratio_idc = Some(idc);
        vui.sample_aspect_ratio = match idc {
            // The table is indexed from idc 1; the bounds are checked by the match arm.
            1..=16 => SAR_TABLE.get(usize::from(idc) - 1).copied(),
            255 => {
                let w = r.read_bits(16)? as u16;
                let h = r.read_bits(16)? as u16;
                (w != 0 && h != 0).then_some((w, h))
            }
            _ => None,
        };
    }
    if r.read_bit()? {
        vui.overscan_appropriate = Some(r.read_bit()?);
    }
    if r.read_bit()? {
        let video_format = r.read_bits(3)? as u8;
        let full_range = r.read_bit()?;
        let colour = if r.read_bit()? {
            Some(ColourDescription {
                colour_primaries: r.read_u8()?,
                transfer_characteristics: r.read_u8()?,
                matrix_coefficients: r.read_u8()?,
            })
        } else {
            None
        };
        vui.video_signal_type = Some(VideoSignalType {
            video_format,
            full_range,
            colour,
        });
    }
    if r.read_bit()? {
        vui.chroma_sample_loc = Some((r.read_ue()?, r.read_ue()?));
    }
    if r.read_bit()? {
        vui.timing = Some(TimingInfo {
            num_units_in_tick: r.read_bits(32)?,
            time_scale: r.read_bits(32)?,
            fixed_frame_rate: r.read_bit()?,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Writes synthetic SPS NAL units, for the cases real encoders rarely produce.

    /// An MSB-first bit writer with Exp-Golomb codes.
    #[derive(Default)]
    pub struct BitWriter {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        pub fn bits(&mut self, n: u32, value: u64) -> &mut Self {
            for i in (0..n).rev() {
                let bit = (value >> i) & 1;
                if self.bits & 7 == 0 {
                    self.bytes.push(0);
                }
                if bit == 1 {
                    let last = self.bytes.len() - 1;
                    self.bytes[last] |= 0x80 >> (self.bits % 8);
                }
                self.bits += 1;
            }
            self
        }

        pub fn flag(&mut self, b: bool) -> &mut Self {
            self.bits(1, u64::from(b))
        }

        pub fn ue(&mut self, v: u32) -> &mut Self {
            let x = u64::from(v) + 1;
            let len = 64 - x.leading_zeros();
            self.bits(len - 1, 0).bits(len, x)
        }

        pub fn se(&mut self, v: i32) -> &mut Self {
            let k = if v > 0 {
                2 * i64::from(v) - 1
            } else {
                -2 * i64::from(v)
            };
            self.ue(k as u32)
        }

        /// rbsp_trailing_bits, then the bytes.
        pub fn finish_rbsp(&mut self) -> Vec<u8> {
            self.bits(1, 1);
            while self.bits & 7 != 0 {
                self.bits(1, 0);
            }
            std::mem::take(&mut self.bytes)
        }

        /// The bytes so far, zero-padded to a whole byte.
        pub fn finish(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.bytes)
        }
    }

    /// Inserts emulation-prevention bytes and prepends the NAL header.
    pub fn rbsp_to_nal(header: u8, rbsp: &[u8]) -> Vec<u8> {
        let mut out = vec![header];
        let mut zeros = 0;
        for &b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_util::{rbsp_to_nal, BitWriter};
    use super::*;
    use crate::test_support::hex;

    // Real SPS NAL units written by libx264 (ffmpeg 5.1 + x264 0.164), made with
    //   ffmpeg -f lavfi -i testsrc=size=WxH:rate=R -pix_fmt FMT -c:v libx264 [opts] -f h264 out.h264
    // and cut from the Annex B output; ffprobe's view of each stream is in the assertions.
    /// 320x240 25 fps yuv420p, High@1.3.
    const X264_320X240_25: &str = "6764000dacd94141fb011000000300100000030320f1429960";
    /// 1920x1080 29.97 fps yuv420p, `-profile:v high -level 4.0`: 1088 coded rows cropped to 1080.
    const X264_1080P_2997: &str = "67640028acd940780227e5c04400000fa40003a9803c60c658";
    /// 320x240 25 fps yuv444p, High 4:4:4 Predictive@1.3.
    const X264_320X240_444: &str = "67f4000d919b28283f6022000003000200000300641e28532c";
    /// 640x360 30 fps, `-profile:v baseline` (pic_order_cnt_type 2), cropped from 368.
    const X264_640X360_BASELINE: &str = "6742c01ed900a02ff970110000030001000003003c0f162e48";
    /// 720x576 25 fps interlaced (`-x264opts interlaced=1`): frame_mbs_only_flag 0.
    const X264_720X576_INTERLACED: &str = "6764001eacd940b424d8088000000300800000190f8a14cb";
    /// 1920x1080 25 fps interlaced: crop unit Y is 4, 1088 -> 1080.
    const X264_1080I_25: &str = "67640028acd94078044fde0220000003002000000643e2c5b2c0";
    /// 1280x720 50 fps yuv420p10le, High 10@3.2.
    const X264_720P50_10BIT: &str = "676e0020a6cd9405005bb011000003000100000300640f183196";
    /// 1920x1080 23.976 fps yuv422p, High 4:2:2@4.0: crop unit Y is 1.
    const X264_1080P_422: &str = "677a0028bcd940780227e2701100000303e90000bb800f183196";
    /// 1920x1080 60 fps yuv444p, High 4:4:4@4.2.
    const X264_1080P_444: &str = "67f4002a919b280f0044fc4e0220000003002000000f01e30632c0";
    /// 1920x1080 25 fps `-pix_fmt gray`: chroma_format_idc 0.
    const X264_1080P_GRAY: &str = "67640028f36501e0089f89c05b20000003002000000641e30632c0";
    /// 318x238 24 fps, `setsar=7/5` (extended SAR 255), full range BT.709 colour description.
    const X264_318X238_SAR: &str =
        "6764000dacd94141feabff000700056e020202800000030080000018078a14cb";

    fn parse(hex_sps: &str) -> SequenceParameterSet {
        SequenceParameterSet::parse(&hex(hex_sps)).unwrap()
    }

    #[test]
    fn x264_320x240_25fps() {
        let info = parse_sps(&hex(X264_320X240_25)).unwrap();
        assert_eq!(
            info,
            SpsInfo {
                profile_idc: 100,
                constraint_flags: 0,
                level_idc: 13,
                width: 320,
                height: 240,
                frame_rate: Some(25.0),
            }
        );
        let sps = parse(X264_320X240_25);
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!(sps.pic_order_cnt_type, 0);
        assert!(sps.frame_mbs_only);
        assert_eq!(sps.pic_width_in_mbs, 20);
        assert_eq!(sps.pic_height_in_map_units, 15);
        assert_eq!(sps.frame_cropping, None);
        let vui = sps.vui.unwrap();
        assert!(!vui.truncated);
        assert_eq!(vui.sample_aspect_ratio, Some((1, 1)));
    }

    #[test]
    fn x264_1080p_is_cropped_from_1088() {
        let sps = parse(X264_1080P_2997);
        assert_eq!((sps.profile_idc, sps.level_idc), (100, 40));
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.pic_height_in_map_units * 16, 1088);
        assert_eq!(
            sps.frame_cropping,
            Some(FrameCropping {
                left: 0,
                right: 0,
                top: 0,
                bottom: 4
            })
        );
        let fps = sps.frame_rate().unwrap();
        assert!((fps - 30000.0 / 1001.0).abs() < 1e-9, "{fps}");
        let timing = sps.vui.unwrap().timing.unwrap();
        assert_eq!((timing.num_units_in_tick, timing.time_scale), (1001, 60000));
    }

    #[test]
    fn x264_other_profiles_and_chroma_formats() {
        // (sps, profile, level, width, height, fps, chroma_format_idc, luma bit depth)
        let cases = [
            (X264_320X240_444, 244, 13, 320, 240, 25.0, 3, 8),
            (X264_640X360_BASELINE, 66, 30, 640, 360, 30.0, 1, 8),
            (X264_720X576_INTERLACED, 100, 30, 720, 576, 25.0, 1, 8),
            (X264_1080I_25, 100, 40, 1920, 1080, 25.0, 1, 8),
            (X264_720P50_10BIT, 110, 32, 1280, 720, 50.0, 1, 10),
            (X264_1080P_422, 122, 40, 1920, 1080, 24000.0 / 1001.0, 2, 8),
            (X264_1080P_444, 244, 42, 1920, 1080, 60.0, 3, 8),
            (X264_1080P_GRAY, 100, 40, 1920, 1080, 25.0, 0, 8),
            (X264_318X238_SAR, 100, 13, 318, 238, 24.0, 1, 8),
        ];
        for (nal, profile, level, w, h, fps, chroma, depth) in cases {
            let sps = parse(nal);
            assert_eq!(sps.profile_idc, profile, "{nal}");
            assert_eq!(sps.level_idc, level, "{nal}");
            assert_eq!((sps.width, sps.height), (w, h), "{nal}");
            assert_eq!(sps.chroma_format_idc, chroma, "{nal}");
            assert_eq!(sps.bit_depth_luma, depth, "{nal}");
            let got = sps.frame_rate().unwrap();
            assert!((got - fps).abs() < 1e-9, "{nal}: {got} fps");
            assert!(!sps.vui.as_ref().unwrap().truncated, "{nal}");
        }
        assert_eq!(parse(X264_640X360_BASELINE).pic_order_cnt_type, 2);
        assert_eq!(parse(X264_640X360_BASELINE).constraint_flags, 0xC0);
        let interlaced = parse(X264_1080I_25);
        assert!(!interlaced.frame_mbs_only);
        assert_eq!(interlaced.pic_height_in_map_units, 34);
        assert_eq!(interlaced.frame_cropping.unwrap().bottom, 2);
    }

    #[test]
    fn x264_extended_sar_and_colour_description() {
        let vui = parse(X264_318X238_SAR).vui.unwrap();
        assert_eq!(vui.aspect_ratio_idc, Some(255));
        assert_eq!(vui.sample_aspect_ratio, Some((7, 5)));
        let signal = vui.video_signal_type.unwrap();
        assert!(signal.full_range);
        assert_eq!(
            signal.colour,
            Some(ColourDescription {
                colour_primaries: 1,
                transfer_characteristics: 1,
                matrix_coefficients: 1
            })
        );
    }

    struct Synthetic {
        profile_idc: u8,
        chroma_format_idc: u32,
        separate_colour_plane: bool,
        scaling_lists: bool,
        poc_type: u32,
        width_mbs: u32,
        height_map_units: u32,
        frame_mbs_only: bool,
        crop: Option<[u32; 4]>,
        timing: Option<(u32, u32)>,
    }

    impl Default for Synthetic {
        fn default() -> Self {
            Synthetic {
                profile_idc: 100,
                chroma_format_idc: 1,
                separate_colour_plane: false,
                scaling_lists: false,
                poc_type: 0,
                width_mbs: 20,
                height_map_units: 15,
                frame_mbs_only: true,
                crop: None,
                timing: None,
            }
        }
    }

    impl Synthetic {
        fn nal(&self) -> Vec<u8> {
            let mut w = BitWriter::default();
            w.bits(8, self.profile_idc.into())
                .bits(8, 0)
                .bits(8, 31)
                .ue(0);
            if HIGH_PROFILES.contains(&self.profile_idc) {
                w.ue(self.chroma_format_idc);
                if self.chroma_format_idc == 3 {
                    w.flag(self.separate_colour_plane);
                }
                w.ue(2).ue(2).flag(false).flag(self.scaling_lists);
                if self.scaling_lists {
                    let lists = if self.chroma_format_idc == 3 { 12 } else { 8 };
                    for i in 0..lists {
                        let present = i % 3 != 1;
                        w.flag(present);
                        if present {
                            let size = if i < 6 { 16 } else { 64 };
                            if i == 0 {
                                // A list that ends early: delta -8 makes nextScale 0.
                                w.se(-8);
                            } else {
                                for j in 0..size {
                                    w.se(if j % 2 == 0 { 5 } else { -127 });
                                }
                            }
                        }
                    }
                }
            }
            w.ue(0).ue(self.poc_type);
            match self.poc_type {
                0 => {
                    w.ue(2);
                }
                1 => {
                    w.flag(false).se(-2).se(3).ue(3).se(1).se(-1).se(100);
                }
                _ => {}
            }
            w.ue(4)
                .flag(true)
                .ue(self.width_mbs - 1)
                .ue(self.height_map_units - 1);
            w.flag(self.frame_mbs_only);
            if !self.frame_mbs_only {
                w.flag(true);
            }
            w.flag(true);
            match self.crop {
                Some([l, r, t, b]) => {
                    w.flag(true).ue(l).ue(r).ue(t).ue(b);
                }
                None => {
                    w.flag(false);
                }
            }
            match self.timing {
                Some((units, scale)) => {
                    w.flag(true); // vui_parameters_present_flag
                    w.flag(true).bits(8, 255).bits(16, 4).bits(16, 3); // extended SAR
                    w.flag(true).flag(false); // overscan
                    w.flag(true).bits(3, 5).flag(false).flag(false); // video signal, no colour
                    w.flag(true).ue(1).ue(1); // chroma loc
                    w.flag(true)
                        .bits(32, units.into())
                        .bits(32, scale.into())
                        .flag(true);
                    w.flag(false).flag(false).flag(false).flag(false); // hrd, pic_struct, restriction
                }
                None => {
                    w.flag(false);
                }
            }
            rbsp_to_nal(0x67, &w.finish_rbsp())
        }

        fn parse(&self) -> Result<SequenceParameterSet, MediaError> {
            SequenceParameterSet::parse(&self.nal())
        }
    }

    #[test]
    fn crop_units_follow_chroma_format_and_field_coding() {
        // (chroma_format_idc, separate planes, frame_mbs_only, crop l r t b, width, height)
        let cases = [
            (1, false, true, [1, 2, 3, 4], 320 - 2 * 3, 240 - 2 * 7),
            (1, false, false, [1, 0, 1, 0], 320 - 2, 480 - 4),
            (2, false, true, [1, 1, 1, 1], 320 - 4, 240 - 2),
            (2, false, false, [0, 0, 1, 1], 320, 480 - 4),
            (3, false, true, [1, 1, 1, 1], 320 - 2, 240 - 2),
            (3, true, true, [1, 1, 1, 1], 320 - 2, 240 - 2),
            (0, false, true, [3, 0, 5, 0], 320 - 3, 240 - 5),
            (0, false, false, [3, 0, 5, 0], 320 - 3, 480 - 10),
        ];
        for (chroma, separate, fmo, crop, w, h) in cases {
            let sps = Synthetic {
                chroma_format_idc: chroma,
                separate_colour_plane: separate,
                frame_mbs_only: fmo,
                crop: Some(crop),
                ..Synthetic::default()
            }
            .parse()
            .unwrap();
            assert_eq!((sps.width, sps.height), (w, h), "chroma {chroma} fmo {fmo}");
            assert_eq!(sps.separate_colour_plane, separate);
            assert_eq!(sps.mb_adaptive_frame_field, !fmo);
        }
    }

    #[test]
    fn skips_scaling_lists_for_420_and_444() {
        for chroma in [1, 3] {
            let sps = Synthetic {
                chroma_format_idc: chroma,
                scaling_lists: true,
                timing: Some((1, 50)),
                ..Synthetic::default()
            }
            .parse()
            .unwrap();
            assert!(sps.seq_scaling_matrix_present);
            // Everything after the lists still lines up.
            assert_eq!((sps.width, sps.height), (320, 240));
            assert_eq!(sps.max_num_ref_frames, 4);
            assert_eq!(sps.frame_rate(), Some(25.0));
        }
    }

    #[test]
    fn poc_type_1_cycle_and_vui() {
        let sps = Synthetic {
            profile_idc: 77,
            poc_type: 1,
            timing: Some((1001, 48000)),
            ..Synthetic::default()
        }
        .parse()
        .unwrap();
        assert_eq!(sps.pic_order_cnt_type, 1);
        assert_eq!(sps.num_ref_frames_in_pic_order_cnt_cycle, Some(3));
        assert_eq!(sps.max_num_ref_frames, 4);
        assert!(sps.gaps_in_frame_num_allowed);
        let vui = sps.vui.clone().unwrap();
        assert_eq!(vui.sample_aspect_ratio, Some((4, 3)));
        assert_eq!(vui.overscan_appropriate, Some(false));
        assert_eq!(vui.video_signal_type.unwrap().video_format, 5);
        assert_eq!(vui.chroma_sample_loc, Some((1, 1)));
        assert!((sps.frame_rate().unwrap() - 48000.0 / 2002.0).abs() < 1e-9);
    }

    #[test]
    fn zero_timing_fields_mean_no_frame_rate() {
        for timing in [(0, 50), (1, 0)] {
            let sps = Synthetic {
                timing: Some(timing),
                ..Synthetic::default()
            }
            .parse()
            .unwrap();
            assert_eq!(sps.frame_rate(), None);
        }
    }

    #[test]
    fn truncated_vui_is_tolerated() {
        let full = Synthetic {
            timing: Some((1, 50)),
            ..Synthetic::default()
        }
        .nal();
        // Cut inside the timing info.
        let cut = &full[..full.len() - 6];
        let sps = SequenceParameterSet::parse(cut).unwrap();
        let vui = sps.vui.unwrap();
        assert!(vui.truncated);
        assert_eq!(vui.sample_aspect_ratio, Some((4, 3)));
        assert_eq!(vui.timing, None);
        assert_eq!((sps.width, sps.height), (320, 240));
    }

    #[test]
    fn rejects_bad_input_with_offsets() {
        assert!(matches!(
            parse_sps(&[]),
            Err(MediaError::Truncated { offset: 0, .. })
        ));
        assert!(matches!(
            parse_sps(&[0x68, 0x64, 0, 13]),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
        assert!(matches!(
            parse_sps(&[0xE7, 0x64, 0, 13]),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
        // Every prefix of a real SPS that ends before the VUI is truncated, never a panic.
        let nal = hex(X264_1080P_2997);
        for len in 1..10 {
            let err = parse_sps(&nal[..len]).unwrap_err();
            assert!(matches!(err, MediaError::Truncated { .. }), "{len}: {err}");
        }
        // Cropping that removes the whole picture.
        let err = Synthetic {
            crop: Some([0, 160, 0, 0]),
            ..Synthetic::default()
        }
        .parse()
        .unwrap_err();
        assert!(matches!(err, MediaError::Invalid { .. }), "{err}");
        // Absurd sizes.
        let err = Synthetic {
            width_mbs: MAX_DIMENSION_MBS + 1,
            ..Synthetic::default()
        }
        .parse()
        .unwrap_err();
        assert!(err.to_string().contains("pic_width_in_mbs_minus1"), "{err}");
        let err = Synthetic {
            chroma_format_idc: 4,
            ..Synthetic::default()
        }
        .parse()
        .unwrap_err();
        assert!(err.to_string().contains("chroma_format_idc 4 > 3"), "{err}");
        let err = Synthetic {
            poc_type: 3,
            ..Synthetic::default()
        }
        .parse()
        .unwrap_err();
        assert!(err.to_string().contains("pic_order_cnt_type"), "{err}");
    }

    #[test]
    fn bit_writer_matches_reader() {
        let mut w = BitWriter::default();
        w.ue(0).ue(7).se(-3).se(4).bits(5, 0b10101);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_ue().unwrap(), 0);
        assert_eq!(r.read_ue().unwrap(), 7);
        assert_eq!(r.read_se().unwrap(), -3);
        assert_eq!(r.read_se().unwrap(), 4);
        assert_eq!(r.read_bits(5).unwrap(), 0b10101);
    }
}
