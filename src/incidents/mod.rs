//! Incidents: opening and attaching them as posts arrive, and the response clocks on working
//! time.

pub mod bench;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod deadlines;
pub mod detect;
pub mod escalation;
pub mod html;
pub mod queue;
pub mod timers;
pub mod view;
