//! packager (being written).
