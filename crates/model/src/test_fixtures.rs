//! The spec's example bodies, shared by the unit tests.

/// "Example Requests" body of the create-channel spec.
pub(crate) const EXAMPLE_REQUEST: &str = include_str!("../testdata/spec_example_request.json");
/// Status 201 example response body.
pub(crate) const EXAMPLE_RESPONSE_201: &str =
    include_str!("../testdata/spec_example_response_201.json");
/// Status 400 example response body.
pub(crate) const EXAMPLE_RESPONSE_400: &str =
    include_str!("../testdata/spec_example_response_400.json");
