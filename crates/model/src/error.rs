//! Errors from reading a channel document.

use crate::validate::ValidationProblem;

/// Why a channel document could not be turned into a [`crate::ChannelConfig`]; every variant names the
/// JSON path of what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The text is not JSON, or does not fit the schema: unknown field, unknown enum value, wrong
    /// type, missing mandatory field. `path` is like `[0].input.sources[0].bitrate` (`.` for the root).
    #[error("{path}: {message}")]
    Json {
        /// Where in the document the error was found.
        path: String,
        /// What serde_json reported, with line and column.
        message: String,
    },
    /// The document fits the schema but breaks validation rules; all of them are listed.
    #[error("invalid channel: {}", join_problems(problems))]
    Invalid {
        /// Every rule the channel breaks, in document order.
        problems: Vec<ValidationProblem>,
    },
}

impl ModelError {
    /// The JSON path of the first problem, for API error messages.
    pub fn path(&self) -> &str {
        match self {
            ModelError::Json { path, .. } => path,
            ModelError::Invalid { problems } => problems.first().map_or(".", |p| p.path.as_str()),
        }
    }
}

impl From<serde_path_to_error::Error<serde_json::Error>> for ModelError {
    fn from(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        ModelError::Json {
            path: err.path().to_string(),
            message: err.into_inner().to_string(),
        }
    }
}

fn join_problems(problems: &[ValidationProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
