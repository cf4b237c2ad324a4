//! Role-based access control with Casbin.
