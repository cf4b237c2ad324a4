//! (filled in by the setup work)
