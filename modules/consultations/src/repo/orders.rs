//! Storage for the orders part of the module.
