//! Channel configuration model (being written).
