//! Dispensing labels (`/pharmacy/dispenses/:id/labels.pdf`), for a label printer or an A4
//! sheet, in the patient's language.
