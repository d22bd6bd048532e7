//! Drives a source on its interval.
