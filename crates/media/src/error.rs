//! Errors from parsing or writing media.

/// What went wrong reading or writing media, with where it happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The input ended before a structure was complete.
    #[error("{what}: truncated, need {needed} bytes at offset {offset}, have {available}")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{what}: invalid at offset {offset}: {reason}")]
    Invalid {
        what: &'static str,
        offset: usize,
        reason: String,
    },
    /// A codec or feature Headwater does not handle (yet).
    #[error("unsupported {what}: {detail}")]
    Unsupported { what: &'static str, detail: String },
}

impl MediaError {
    /// The same error with its offset moved by `by`: for an error found in a nested structure
    /// (an SPS inside a configuration record), counted from where that structure starts.
    pub fn shifted(self, by: usize) -> MediaError {
        match self {
            MediaError::Truncated {
                what,
                offset,
                needed,
                available,
            } => MediaError::Truncated {
                what,
                offset: offset + by,
                needed,
                available,
            },
            MediaError::Invalid {
                what,
                offset,
                reason,
            } => MediaError::Invalid {
                what,
                offset: offset + by,
                reason,
            },
            other => other,
        }
    }
}
