//! Storage for the documents part of the module.
