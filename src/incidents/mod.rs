//! Incidents: opening and attaching, and the response clocks.
