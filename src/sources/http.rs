//! The HTTP client every source shares: identity, time and size limits.
