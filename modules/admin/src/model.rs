//! Staff account fields and their validation.

use hms_core::auth::users::{self, StaffDetails};
use hms_core::http::Form;
use hms_core::i18n::t;
use hms_core::phone;
use hms_core::ui::FormErrors;
use serde::Serialize;

/// Cadres of health workers and the body that registers each (printed on clinical documents).
pub const CADRES: &[Cadre] = &[
    Cadre {
        code: "doctor",
        label: "Medical doctor",
        regulator: Some("KMPDC"),
    },
    Cadre {
        code: "clinical_officer",
        label: "Clinical officer",
        regulator: Some("COC"),
    },
    Cadre {
        code: "nurse",
        label: "Nurse",
        regulator: Some("NCK"),
    },
    Cadre {
        code: "pharmacist",
        label: "Pharmacist",
        regulator: Some("PPB"),
    },
    Cadre {
        code: "pharm_tech",
        label: "Pharmaceutical technologist",
        regulator: Some("PPB"),
    },
    Cadre {
        code: "lab_technologist",
        label: "Laboratory technologist",
        regulator: Some("KMLTTB"),
    },
    Cadre {
        code: "records_officer",
        label: "Health records officer",
        regulator: None,
    },
    Cadre {
        code: "other",
        label: "Other staff",
        regulator: None,
    },
];

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cadre {
    pub code: &'static str,
    pub label: &'static str,
    pub regulator: Option<&'static str>,
}

pub fn cadre(code: &str) -> Option<&'static Cadre> {
    CADRES.iter().find(|c| c.code == code)
}

/// The editable fields of an account as typed, kept to show the form again.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountForm {
    pub username: String,
    pub full_name: String,
    pub roles: Vec<String>,
    pub cadre: String,
    pub registration_no: String,
    pub phone: String,
    pub email: String,
}

impl AccountForm {
    pub fn from_form(form: &Form) -> Self {
        Self {
            username: users::normalize_username(form.get("username")),
            full_name: form.get("full_name").trim().to_string(),
            roles: form.all("roles").into_iter().map(str::to_string).collect(),
            cadre: form.get("cadre").trim().to_string(),
            registration_no: form.get("registration_no").trim().to_uppercase(),
            phone: form.get("phone").trim().to_string(),
            email: form.get("email").trim().to_lowercase(),
        }
    }

    /// Checks the fields; returns the details to store. `known_roles` are the role names.
    pub fn validate(
        &self,
        known_roles: &[String],
        errors: &mut FormErrors,
    ) -> Option<StaffDetails> {
        errors.check("full_name", users::check_full_name(&self.full_name));
        if self.roles.is_empty() {
            errors.add("roles", t("admin.error_no_role"));
        } else if let Some(bad) = self.roles.iter().find(|r| !known_roles.contains(r)) {
            errors.add("roles", format!("{} {bad}", t("admin.error_unknown_role")));
        }
        if !self.cadre.is_empty() && cadre(&self.cadre).is_none() {
            errors.add("cadre", t("admin.error_cadre"));
        }
        let reg = &self.registration_no;
        if !reg.is_empty() {
            let ok = (2..=30).contains(&reg.chars().count())
                && reg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | ' ' | '.'));
            if !ok {
                errors.add("registration_no", t("admin.error_registration"));
            } else if self.cadre.is_empty()
                || cadre(&self.cadre).is_some_and(|c| c.regulator.is_none())
            {
                errors.add("registration_no", t("admin.error_registration_cadre"));
            }
        }
        let phone = if self.phone.is_empty() {
            None
        } else {
            match phone::normalize_mobile(&self.phone) {
                Ok(p) => Some(p),
                Err(m) => {
                    errors.add("phone", m);
                    None
                }
            }
        };
        if !self.email.is_empty() && !looks_like_email(&self.email) {
            errors.add("email", t("admin.error_email"));
        }
        errors.is_empty().then(|| StaffDetails {
            cadre: non_empty(&self.cadre),
            registration_no: non_empty(reg),
            phone,
            email: non_empty(&self.email),
        })
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> AccountForm {
        AccountForm {
            username: "wanjiru".into(),
            full_name: "Wanjiru Kamau".into(),
            roles: vec!["nurse".into()],
            ..Default::default()
        }
        .with(pairs)
    }

    impl AccountForm {
        fn with(mut self, pairs: &[(&str, &str)]) -> Self {
            for (k, v) in pairs {
                match *k {
                    "cadre" => self.cadre = v.to_string(),
                    "registration_no" => self.registration_no = v.to_string(),
                    "phone" => self.phone = v.to_string(),
                    "email" => self.email = v.to_string(),
                    "roles" => self.roles = vec![v.to_string()],
                    _ => unreachable!(),
                }
            }
            self
        }
    }

    #[test]
    fn a_nurse_with_registration_and_contacts_is_accepted() {
        let roles = vec!["nurse".to_string()];
        let mut errors = FormErrors::new();
        let d = form(&[
            ("cadre", "nurse"),
            ("registration_no", "NCK/12345"),
            ("phone", "0712 345 678"),
            ("email", "w@clinic.co.ke"),
        ])
        .validate(&roles, &mut errors)
        .expect("valid");
        assert_eq!(d.phone.as_deref(), Some("+254712345678"));
        assert_eq!(d.cadre.as_deref(), Some("nurse"));
    }

    #[test]
    fn each_wrong_field_gets_its_own_message() {
        let roles = vec!["nurse".to_string()];
        let mut errors = FormErrors::new();
        let d = form(&[
            ("cadre", "wizard"),
            ("registration_no", "!!"),
            ("phone", "12"),
            ("email", "nope"),
            ("roles", "surgeon"),
        ])
        .validate(&roles, &mut errors);
        assert!(d.is_none());
        for field in ["cadre", "registration_no", "phone", "email", "roles"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn registration_numbers_need_a_registered_cadre() {
        let roles = vec!["nurse".to_string()];
        let mut errors = FormErrors::new();
        let d = form(&[("cadre", "records_officer"), ("registration_no", "HRO/1")])
            .validate(&roles, &mut errors);
        assert!(d.is_none());
        assert!(errors.get("registration_no").is_some());
    }
}
