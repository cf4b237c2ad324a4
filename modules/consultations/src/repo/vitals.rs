//! Storage for the vitals part of the module.
