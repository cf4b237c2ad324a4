//! (filled in by the booking work)
