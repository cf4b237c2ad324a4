//! (filled in by the picker work)
