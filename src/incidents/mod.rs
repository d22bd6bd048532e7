//! Incidents: opening and attaching, and the response clocks.

pub mod calendar;
pub mod clock;
pub mod deadlines;
