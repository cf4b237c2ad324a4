//! Pharmacy reports: monthly consumption per store (F-CDRR style), stock on hand at cost and at
//! price, daily dispensing register, controlled-drug register, expiry report; CSV and PDF.
