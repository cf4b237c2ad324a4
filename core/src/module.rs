//! Department modules: the contract and the registry.
