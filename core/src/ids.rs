//! Typed record ids: a patient's id cannot be passed where a visit's is meant. Each is the
//! table's integer key (URLs keep the short ids), stored and bound as a plain integer on both
//! databases, read from paths and forms as a number.

use std::fmt;

use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Type};

macro_rules! record_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The integer key, for URLs and for code that still speaks integers.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <i64 as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <i64 as Type<Any>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as sqlx::Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <i64 as Encode<'q, Any>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                <i64 as Decode<'r, Any>>::decode(value).map(Self)
            }
        }
    )*};
}

record_id! {
    /// A patient record (`patients.id`).
    PatientId;
    /// A visit: one attendance, from check-in to the end of the day (`visits.id`).
    VisitId;
    /// A staff account (`users.id`).
    UserId;
    /// One item a department asked another to do (`orders.id`).
    OrderId;
    /// One line of what a patient was charged (`charges.id`).
    ChargeId;
    /// A facility of the install (`facilities.id`).
    FacilityId;
    /// A consultation note (`encounters`).
    EncounterId;
    /// A vital-signs set (`vital_signs`).
    VitalsId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_show_as_plain_numbers() {
        let id: PatientId = "42".parse().unwrap();
        assert_eq!(id, PatientId(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        let back: VisitId = serde_json::from_str("7").unwrap();
        assert_eq!(i64::from(back), 7);
        assert!("4x".parse::<OrderId>().is_err());
    }
}
