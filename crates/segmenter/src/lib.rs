//! segmenter (being written).
