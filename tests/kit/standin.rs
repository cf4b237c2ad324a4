//! A stand-in department built only in tests: it fills orders of a test kind and posts a charge
//! when it completes one, through core alone. Registered in a test app
//! ([`crate::TestApp::start_with_modules`]), it shows a department can be added without editing
//! core, web or another module.

use std::sync::Arc;

use hms_core::charges::{self, ChargeItem, NewCharge};
use hms_core::db::Db;
use hms_core::http::{Access, Ctx, RouteSpec};
use hms_core::ids::OrderId;
use hms_core::module::{Module, Orderable, OrderableFuture, OrderablesFuture, Permission};
use hms_core::money::Money;
use hms_core::orders::{self, Flag, Outcome};
use hms_core::{AppError, AppResult};
use poem::handler;
use poem::web::Path;

/// The order kind the stand-in fills.
pub const KIND: &str = "standin_test";
/// The charge item it sells.
pub const ITEM: &str = "standin.test.glucose";
/// Its price.
pub fn price() -> Money {
    Money::from_cents(35_000)
}

/// The stand-in department (id `standin`).
pub struct StandIn;

/// The stand-in as a module list entry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(StandIn)
}

fn catalogue() -> Orderable {
    Orderable {
        code: "glucose".into(),
        name: "Blood glucose".into(),
        unit: "test".into(),
        price: Some(price()),
        stock: None,
    }
}

impl Module for StandIn {
    fn id(&self) -> &'static str {
        "standin"
    }
    fn title(&self) -> &'static str {
        "standin"
    }
    fn permissions(&self) -> &'static [Permission] {
        &[Permission {
            code: "standin.fill",
            description: "Fill stand-in test orders",
            administrative: false,
        }]
    }
    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        &[("admin", "standin.fill")]
    }
    fn routes(&self) -> Vec<RouteSpec> {
        vec![RouteSpec::post(
            "/standin/orders/:id/complete",
            Access::Permission("standin.fill"),
            complete,
        )]
    }
    fn fulfils(&self) -> &'static [&'static str] {
        &[KIND]
    }
    fn orderables<'a>(
        &'a self,
        _db: &'a Db,
        kind: &'a str,
        query: &'a str,
    ) -> OrderablesFuture<'a> {
        Box::pin(async move {
            let item = catalogue();
            let hit = kind == KIND && item.name.to_lowercase().contains(&query.to_lowercase());
            Ok(if hit { vec![item] } else { Vec::new() })
        })
    }
    fn orderable<'a>(&'a self, _db: &'a Db, kind: &'a str, code: &'a str) -> OrderableFuture<'a> {
        Box::pin(async move { Ok(Some(catalogue()).filter(|c| kind == KIND && c.code == code)) })
    }
}

/// Starts and completes the order, and charges for it, in one transaction.
#[handler]
async fn complete(cx: Ctx, Path(id): Path<i64>) -> AppResult<String> {
    let app = cx.app();
    let order = orders::get(&app.db, OrderId(id))
        .await?
        .filter(|o| o.kind == KIND)
        .ok_or(AppError::NotFound)?;
    let actor = cx.actor();
    let mut tx = app.db.begin().await?;
    charges::publish_item(
        &mut tx,
        "standin",
        &ChargeItem {
            code: ITEM.into(),
            name: "Blood glucose".into(),
            unit: "test".into(),
            price: price(),
        },
    )
    .await?;
    orders::start(&mut tx, &actor, order.id).await?;
    let outcome = Outcome {
        summary: "5.4 mmol/L".into(),
        flag: Flag::Normal,
    };
    orders::complete(&mut tx, &actor, order.id, Some(&outcome)).await?;
    let charge = charges::post(
        &mut tx,
        &actor,
        &NewCharge {
            patient: order.patient,
            visit: order.visit,
            item: ITEM.into(),
            quantity: order.quantity,
            unit_price: None,
            service_point: Some("laboratory".into()),
            source: "order".into(),
            source_ref: order.id.to_string(),
        },
    )
    .await?;
    tx.commit().await.map_err(AppError::from)?;
    Ok(format!("completed order {} charge {}", order.id, charge.id))
}

/// Records a patient straight into the database (for tests of orders and charges that need a
/// patient row, not registration); returns the id.
pub async fn bare_patient(db: &Db, number: &str) -> hms_core::ids::PatientId {
    use sqlx::Row;
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.expect("begin");
    let id: i64 = sqlx::query(
        "INSERT INTO patients (number, first_name, last_name, sex, date_of_birth, created_at, \
         updated_at) VALUES ($1, 'Wanjiru', 'Kamau', 'female', '1990-01-01', $2, $2) RETURNING id",
    )
    .bind(number)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .expect("patient inserted")
    .get(0);
    tx.commit().await.expect("commit");
    hms_core::ids::PatientId(id)
}
