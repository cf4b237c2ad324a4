//! `chart_heavy`: the chart of one patient with 1,000 visits (`--heavy-visits`). Before the
//! clock starts the patient comes that many times as staff would see them through the server: checked in, vital
//! signs at triage (sent on as an emergency, so that the doctor's *Take next* takes them before
//! anyone else waiting), and a whole consultation with its diagnosis, a test and signing.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::http::Client;
use crate::scenarios::Shared;

/// Gives an adult of the data set `shared.heavy_visits` visits; the patient's id.
pub async fn prepare(shared: &Shared) -> Result<i64, String> {
    let (nurse, doctor) = (shared.account("nurse")?, shared.account("doctor")?);
    let mut n = Client::new(shared.addr);
    n.login(&nurse.username, &nurse.password).await?;
    n.get("/visits/checkin").await?;
    let mut d = Client::new(shared.addr);
    d.login(&doctor.username, &doctor.password).await?;
    d.get("/consultations").await?;
    let mut rng = StdRng::seed_from_u64(shared.seed ^ 0x4ea7_0001);
    // The first adult with no visit open today.
    let mut first = None;
    for candidate in shared.adults.iter().take(50) {
        if let Some(visit) = check_in(&mut n, *candidate).await? {
            first = Some((*candidate, visit));
            break;
        }
    }
    let (patient, mut id) = first.ok_or("no adult could be checked in for chart_heavy")?;
    for visit in 0..shared.heavy_visits {
        if visit > 0 {
            id = check_in(&mut n, patient)
                .await?
                .ok_or("chart_heavy: the patient's last visit did not close")?;
        }
        let r = n
            .post_form(
                &format!("/triage/{id}"),
                &[
                    ("temperature", "37.2"),
                    ("pulse", "80"),
                    ("resp_rate", "18"),
                    ("systolic", "120"),
                    ("diastolic", "80"),
                    ("spo2", "97"),
                    ("weight", "64.5"),
                    ("height", "165"),
                    ("pain", "2"),
                    ("triage_category", ""),
                    ("send_to", "consultation"),
                    ("emergency", "1"),
                    ("checked", "weight"),
                ],
            )
            .await?;
        if r.status != 303 {
            return Err(format!("chart_heavy: triage answered {}", r.status));
        }
        crate::clinical::consult(&mut d, shared, &mut rng, &mut Vec::new()).await?;
    }
    println!(
        "  chart_heavy: patient {patient} given {} visits",
        shared.heavy_visits
    );
    Ok(patient)
}

/// Checks `patient` in at triage; the visit, or `None` when refused (a visit open today).
async fn check_in(c: &mut Client, patient: i64) -> Result<Option<i64>, String> {
    let patient = patient.to_string();
    let r = c
        .post_form(
            "/visits",
            &[
                ("patient", patient.as_str()),
                ("payer", "cash"),
                ("point", "triage"),
                ("priority", ""),
            ],
        )
        .await?;
    if r.status != 303 {
        return Ok(None);
    }
    let id = r
        .location
        .as_deref()
        .and_then(|l| l.strip_prefix("/visits/"))
        .and_then(|l| l.strip_suffix("/slip"))
        .and_then(|id| id.parse().ok())
        .ok_or("check-in answered 303 without the slip's address")?;
    Ok(Some(id))
}
