//! (filled in by the swahili work)
