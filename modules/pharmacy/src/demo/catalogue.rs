//! The demo's stock list: common essential medicines of a Kenyan outpatient facility (each
//! prescription the consultations demo writes names one of them), found in the catalogue when
//! it is already there or written to it, then the same medicines in the packs of several
//! makers until the list reaches the size of a facility's stock list (1,500 items at scale).
//! Every item written publishes its charge item in the same transaction.

use std::collections::HashMap;

use hms_core::db::Tx;

use super::Result;
use crate::catalogue::{DrugFields, Saved};
use crate::model::Drug;
use crate::repo::demo as sql;

/// A medicine of the base list.
pub struct Base {
    pub code: &'static str,
    pub generic: &'static str,
    pub strength: &'static str,
    pub form: &'static str,
    pub unit: &'static str,
    pub pack: i64,
    pub route: &'static str,
    pub class: &'static str,
    pub allergy: &'static str,
    pub moh717: &'static str,
    pub controlled: bool,
    pub prescription_only: bool,
    pub price_cents: i64,
    /// How the consultations demo writes it on an order (its `free_text`), when it does.
    pub prescribed_as: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
const fn med(
    code: &'static str,
    generic: &'static str,
    strength: &'static str,
    form: &'static str,
    unit: &'static str,
    pack: i64,
    class: &'static str,
    price_cents: i64,
) -> Base {
    Base {
        code,
        generic,
        strength,
        form,
        unit,
        pack,
        route: "oral",
        class,
        allergy: "",
        moh717: "common",
        controlled: false,
        prescription_only: true,
        price_cents,
        prescribed_as: None,
    }
}

const fn as_rx(b: Base, prescribed_as: &'static str) -> Base {
    Base {
        prescribed_as: Some(prescribed_as),
        ..b
    }
}

const fn antibiotic(b: Base) -> Base {
    Base {
        moh717: "antibiotic",
        ..b
    }
}

const fn special(b: Base) -> Base {
    Base {
        moh717: "special",
        ..b
    }
}

const fn allergy(b: Base, groups: &'static str) -> Base {
    Base {
        allergy: groups,
        ..b
    }
}

const fn route(b: Base, route: &'static str) -> Base {
    Base { route, ..b }
}

const fn otc(b: Base) -> Base {
    Base {
        prescription_only: false,
        ..b
    }
}

const fn controlled(b: Base) -> Base {
    Base {
        controlled: true,
        ..b
    }
}

/// The base list. Prices are demo prices per dispensing unit, in cents.
#[rustfmt::skip]
pub const BASE: &[Base] = &[
    as_rx(otc(med("PCM500T", "Paracetamol", "500 mg", "tablet", "tablet", 100, "analgesic", 100)),
        "Paracetamol 500 mg tablets"),
    as_rx(special(med("AL20T", "Artemether/lumefantrine", "20/120 mg", "tablet", "tablet", 24,
        "antimalarial", 1_500)), "Artemether/lumefantrine 20/120 mg tablets"),
    as_rx(otc(med("ORS1S", "Oral rehydration salts", "20.5 g", "sachet", "sachet", 50,
        "rehydration", 1_000)), "ORS sachets"),
    as_rx(allergy(antibiotic(med("AMX250C", "Amoxicillin", "250 mg", "capsule", "capsule", 100,
        "penicillin", 300)), "penicillins"), "Amoxicillin 250 mg capsules"),
    as_rx(route(otc(med("CAL100L", "Calamine", "100 ml", "lotion", "bottle", 1, "skin", 8_000)),
        "topical"), "Calamine lotion"),
    as_rx(otc(med("ALB400T", "Albendazole", "400 mg", "tablet", "tablet", 100, "anthelmintic",
        500)), "Albendazole 400 mg tablets"),
    as_rx(antibiotic(med("NIT100T", "Nitrofurantoin", "100 mg", "tablet", "tablet", 100,
        "antibacterial", 400)), "Nitrofurantoin 100 mg tablets"),
    as_rx(med("AML5T", "Amlodipine", "5 mg", "tablet", "tablet", 100, "antihypertensive", 200),
        "Amlodipine 5 mg tablets"),
    as_rx(med("MET500T", "Metformin", "500 mg", "tablet", "tablet", 100, "antidiabetic", 150),
        "Metformin 500 mg tablets"),
    as_rx(allergy(otc(med("IBU400T", "Ibuprofen", "400 mg", "tablet", "tablet", 100, "nsaid",
        150)), "nsaids"), "Ibuprofen 400 mg tablets"),
    as_rx(route(antibiotic(med("TET1E", "Tetracycline", "1%", "eye ointment", "tube", 1,
        "antibacterial", 6_000)), "eye"), "Tetracycline eye ointment 1%"),
    allergy(antibiotic(med("AMX500C", "Amoxicillin", "500 mg", "capsule", "capsule", 100,
        "penicillin", 500)), "penicillins"),
    allergy(antibiotic(med("AMC625T", "Amoxicillin/clavulanic acid", "625 mg", "tablet", "tablet",
        14, "penicillin", 2_500)), "penicillins"),
    allergy(antibiotic(med("SXT480T", "Co-trimoxazole", "480 mg", "tablet", "tablet", 100,
        "sulfonamide", 150)), "sulfonamides"),
    antibiotic(med("MTZ400T", "Metronidazole", "400 mg", "tablet", "tablet", 100, "antibacterial",
        200)),
    antibiotic(med("CIP500T", "Ciprofloxacin", "500 mg", "tablet", "tablet", 100, "quinolone", 500)),
    antibiotic(med("DOX100C", "Doxycycline", "100 mg", "capsule", "capsule", 100, "tetracycline",
        300)),
    allergy(antibiotic(med("ERY250T", "Erythromycin", "250 mg", "tablet", "tablet", 100,
        "macrolide", 400)), "macrolides"),
    allergy(route(antibiotic(med("CRO1V", "Ceftriaxone", "1 g", "powder for injection", "vial", 1,
        "cephalosporin", 15_000)), "intravenous"), "cephalosporins"),
    route(antibiotic(med("GEN80A", "Gentamicin", "80 mg/2 ml", "injection", "ampoule", 10,
        "aminoglycoside", 3_000)), "intramuscular"),
    allergy(route(antibiotic(med("BPN5V", "Benzylpenicillin", "5 MU", "powder for injection",
        "vial", 1, "penicillin", 5_000)), "intramuscular"), "penicillins"),
    special(route(med("ART60V", "Artesunate", "60 mg", "powder for injection", "vial", 1,
        "antimalarial", 30_000), "intravenous")),
    otc(med("ZNC20T", "Zinc sulphate", "20 mg", "dispersible tablet", "tablet", 100, "mineral",
        100)),
    otc(med("FEF200T", "Ferrous sulphate/folic acid", "200/0.4 mg", "tablet", "tablet", 100,
        "haematinic", 100)),
    med("SAL4T", "Salbutamol", "4 mg", "tablet", "tablet", 100, "bronchodilator", 100),
    route(med("SAL100I", "Salbutamol", "100 mcg/dose", "inhaler", "inhaler", 1, "bronchodilator",
        35_000), "inhaled"),
    med("PRD5T", "Prednisolone", "5 mg", "tablet", "tablet", 100, "corticosteroid", 200),
    med("HCT25T", "Hydrochlorothiazide", "25 mg", "tablet", "tablet", 100, "diuretic", 100),
    med("ENA5T", "Enalapril", "5 mg", "tablet", "tablet", 100, "antihypertensive", 200),
    med("LOS50T", "Losartan", "50 mg", "tablet", "tablet", 30, "antihypertensive", 500),
    med("GLB5T", "Glibenclamide", "5 mg", "tablet", "tablet", 100, "antidiabetic", 100),
    route(med("INS100V", "Insulin soluble", "100 IU/ml 10 ml", "injection", "vial", 1,
        "antidiabetic", 60_000), "subcutaneous"),
    med("OME20C", "Omeprazole", "20 mg", "capsule", "capsule", 100, "antiulcer", 300),
    otc(med("CPM4T", "Chlorphenamine", "4 mg", "tablet", "tablet", 100, "antihistamine", 50)),
    otc(med("CET10T", "Cetirizine", "10 mg", "tablet", "tablet", 100, "antihistamine", 200)),
    allergy(med("DIC50T", "Diclofenac", "50 mg", "tablet", "tablet", 100, "nsaid", 100), "nsaids"),
    med("FLU150C", "Fluconazole", "150 mg", "capsule", "capsule", 1, "antifungal", 3_000),
    route(otc(med("CLO1C", "Clotrimazole", "1% 20 g", "cream", "tube", 1, "antifungal", 10_000)),
        "topical"),
    med("HYO10T", "Hyoscine butylbromide", "10 mg", "tablet", "tablet", 100, "antispasmodic", 300),
    otc(med("MGT1T", "Magnesium trisilicate", "compound", "tablet", "tablet", 100, "antacid", 50)),
    route(med("OXY10A", "Oxytocin", "10 IU/ml", "injection", "ampoule", 10, "oxytocic", 5_000),
        "intramuscular"),
    route(med("DMP150V", "Medroxyprogesterone acetate", "150 mg/ml", "injection", "vial", 1,
        "contraceptive", 10_000), "intramuscular"),
    special(med("TLD1T", "Tenofovir/lamivudine/dolutegravir", "300/300/50 mg", "tablet", "tablet",
        30, "antiretroviral", 1_000)),
    controlled(route(med("MOR10A", "Morphine", "10 mg/ml", "injection", "ampoule", 10,
        "opioid analgesic", 8_000), "intramuscular")),
    controlled(med("DZP5T", "Diazepam", "5 mg", "tablet", "tablet", 100, "benzodiazepine", 100)),
    controlled(med("TRM50C", "Tramadol", "50 mg", "capsule", "capsule", 100, "opioid analgesic",
        500)),
];

/// The packs the further items come in: (code suffix, maker named in `brands`, pack factor).
const MAKERS: &[(&str, &str)] = &[
    ("A", "Mwangaza Pharma"),
    ("B", "Savanna Generics"),
    ("C", "Tana Laboratories"),
    ("D", "Kilima Healthcare"),
    ("E", "Ziwa Pharmaceuticals"),
    ("F", "Pwani Medics"),
    ("G", "Baraka Life Sciences"),
    ("H", "Rift Valley Pharma"),
    ("J", "Nyota Generics"),
    ("K", "Simba Drugs"),
    ("L", "Jua Pharmaceuticals"),
    ("M", "Upendo Labs"),
];

/// Pack sizes of the further items, as multiples of the base pack (a pack of one stays one).
const PACKS: &[i64] = &[1, 2, 5, 10];

/// An item of the demo's stock list.
pub struct Item {
    pub drug: Drug,
    /// The base medicine it is (the base list's index).
    pub base: usize,
}

/// Items in the catalogue for a facility of `patients`: the base list at the smallest, 1,500
/// from 7,500 patients up.
pub fn size_for(patients: u64) -> usize {
    (patients / 5).clamp(BASE.len() as u64, 1_500) as usize
}

fn key(generic: &str, strength: &str) -> String {
    format!("{generic}|{strength}")
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The stock list of `size` items: each base medicine found in the catalogue (by generic name
/// and strength: the starter list's entry when it was loaded) or written, then further packs
/// by other makers until the list holds `size` items. Returns the base items first, in
/// [`BASE`] order, then the others.
pub async fn ensure(tx: &mut Tx, size: usize, now: &str) -> Result<Vec<Item>> {
    let existing = sql::all_drugs(tx).await?;
    let mut by_key: HashMap<String, Drug> = HashMap::new();
    let mut codes: HashMap<String, Drug> = HashMap::new();
    for d in existing {
        by_key
            .entry(key(&d.generic_name, &d.strength))
            .or_insert_with(|| d.clone());
        codes.insert(d.code.clone(), d);
    }
    let mut items = Vec::with_capacity(size);
    for (i, b) in BASE.iter().enumerate() {
        let drug = match codes
            .get(b.code)
            .or_else(|| by_key.get(&key(b.generic, b.strength)))
        {
            Some(d) => d.clone(),
            None => write(tx, b, b.code, b.pack, "", now).await?,
        };
        items.push(Item { drug, base: i });
    }
    'fill: for factor in PACKS {
        for (suffix, maker) in MAKERS {
            for (i, b) in BASE.iter().enumerate() {
                if items.len() >= size {
                    break 'fill;
                }
                let code = format!("{}-{suffix}{factor}", b.code);
                let drug = match codes.get(&code) {
                    Some(d) => d.clone(),
                    None => write(tx, b, &code, b.pack * factor, maker, now).await?,
                };
                items.push(Item { drug, base: i });
            }
        }
    }
    Ok(items)
}

/// Adds the item and its charge item as the catalogue does (unaudited: the demo audits the
/// batch).
async fn write(
    tx: &mut Tx,
    b: &Base,
    code: &str,
    pack: i64,
    maker: &str,
    now: &str,
) -> Result<Drug> {
    let fields = DrugFields {
        code: code.to_string(),
        generic_name: b.generic.to_string(),
        strength: b.strength.to_string(),
        form: b.form.to_string(),
        unit: b.unit.to_string(),
        pack_size: pack,
        route: b.route.to_string(),
        drug_class: b.class.to_string(),
        allergy_groups: b.allergy.to_string(),
        moh717: b.moh717.to_string(),
        controlled: b.controlled,
        prescription_only: b.prescription_only,
        level_of_care: 2,
        price_cents: b.price_cents,
        brands: maker.to_string(),
        active: true,
    };
    match crate::catalogue::create_quietly(tx, &fields, now).await? {
        Saved::Created(id) => Ok(fields.drug(id)),
        _ => Err(format!("the demo's drug code {code} is taken").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_base_code_is_unique_and_the_full_list_is_reachable() {
        let mut codes: Vec<&str> = BASE.iter().map(|b| b.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), BASE.len());
        assert!(BASE.len() * (1 + MAKERS.len() * PACKS.len()) >= 1_500);
        assert_eq!(size_for(1_000_000), 1_500);
        assert_eq!(size_for(10), BASE.len());
    }
}
