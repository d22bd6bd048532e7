//! Incidents: opening and attaching them as posts arrive.

pub mod detect;
