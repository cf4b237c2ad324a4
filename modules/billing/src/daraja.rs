//! Safaricom's Daraja API for M-Pesa Express (STK push) and its status query, configured in
//! `[modules.billing]` (`mpesa_api`, `mpesa_shortcode`, `mpesa_passkey`, `mpesa_consumer_key`,
//! `mpesa_consumer_secret`, `mpesa_callback_secret`; the callback address is the server's
//! `public_url`). Without `mpesa_api` the push is off and the desk takes M-Pesa by code.
//! Secrets stay in configuration and never reach a log.

use std::time::Duration;

use hms_core::config::Config;
use hms_core::module_config::{Setting, SettingKind};
use hms_core::outbound;
use serde_json::{json, Value};

const MODULE: &str = "billing";
const TIMEOUT: Duration = Duration::from_secs(20);

/// A text setting of `[modules.billing]` with no default (M-Pesa, eTIMS and the HIE are each
/// off until configured).
pub(crate) const fn text(key: &'static str, description: &'static str) -> Setting {
    Setting {
        key,
        description,
        kind: SettingKind::Text { default: "" },
    }
}

pub const API: Setting = text(
    "mpesa_api",
    "Daraja's address (https://api.safaricom.co.ke, or the sandbox); empty: no STK push",
);
pub const SHORTCODE: Setting = text("mpesa_shortcode", "The paybill number payments go to");
pub const PASSKEY: Setting = text(
    "mpesa_passkey",
    "The M-Pesa Express passkey Safaricom issued",
);
pub const CONSUMER_KEY: Setting = text("mpesa_consumer_key", "The Daraja app's consumer key");
pub const CONSUMER_SECRET: Setting =
    text("mpesa_consumer_secret", "The Daraja app's consumer secret");
pub const CALLBACK_SECRET: Setting = text(
    "mpesa_callback_secret",
    "The secret in the callback addresses (/billing/mpesa/stk/<secret>, /billing/mpesa/c2b/<secret>/confirmation); empty: callbacks answer 404",
);

/// The configured callback secret, if any (at least 16 characters, or callbacks stay off).
pub fn callback_secret(config: &Config) -> Option<String> {
    Some(config.module_text(MODULE, &CALLBACK_SECRET)).filter(|s| s.chars().count() >= 16)
}

#[derive(Debug, thiserror::Error)]
pub enum DarajaError {
    /// M-Pesa could not be reached or did not answer in time: the push may be retried.
    #[error("M-Pesa could not be reached: {0}")]
    Unreachable(String),
    /// M-Pesa refused the request (its code and words).
    #[error("M-Pesa refused: {0} {1}")]
    Refused(String, String),
}

/// A configured Daraja account.
#[derive(Clone)]
pub struct Daraja {
    api: String,
    shortcode: String,
    passkey: String,
    key: String,
    secret: String,
    callback_url: String,
}

impl Daraja {
    /// The account as configured, when the push can work (an API, a shortcode, a callback
    /// secret and the address staff reach the server at).
    pub fn from_config(config: &Config) -> Option<Self> {
        let get = |s: &Setting| config.module_text(MODULE, s).trim().to_string();
        let api = get(&API).trim_end_matches('/').to_string();
        let public = config
            .public_url
            .as_deref()?
            .trim_end_matches('/')
            .to_string();
        let secret = callback_secret(config)?;
        if api.is_empty() || get(&SHORTCODE).is_empty() {
            return None;
        }
        Some(Self {
            api,
            shortcode: get(&SHORTCODE),
            passkey: get(&PASSKEY),
            key: get(&CONSUMER_KEY),
            secret: get(&CONSUMER_SECRET),
            callback_url: format!("{public}/billing/mpesa/stk/{secret}"),
        })
    }

    async fn call(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, DarajaError> {
        let url = format!("{}{path}", self.api);
        let auth = match token {
            Some(t) => format!("Bearer {t}"),
            None => format!(
                "Basic {}",
                base64(format!("{}:{}", self.key, self.secret).as_bytes())
            ),
        };
        let method = if body.is_some() { "POST" } else { "GET" };
        let answer = outbound::send(method, &url, &[("authorization", &auth)], body, TIMEOUT)
            .await
            .map_err(|e| DarajaError::Unreachable(e.to_string()))?;
        let value: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status >= 500 {
            return Err(DarajaError::Unreachable(format!("HTTP {}", answer.status)));
        }
        if answer.status >= 400 {
            let code = value["errorCode"].as_str().unwrap_or("").to_string();
            let words = value["errorMessage"].as_str().unwrap_or("").to_string();
            return Err(DarajaError::Refused(code, words));
        }
        Ok(value)
    }

    async fn token(&self) -> Result<String, DarajaError> {
        let v = self
            .call(
                "/oauth/v1/generate?grant_type=client_credentials",
                None,
                None,
            )
            .await?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DarajaError::Refused(String::new(), "no access token".into()))
    }

    /// The Password and Timestamp of a request at `now` (Nairobi time, YYYYMMDDHHmmss).
    fn password(&self) -> (String, String) {
        let stamp = hms_core::clock::to_local(chrono::Utc::now())
            .format("%Y%m%d%H%M%S")
            .to_string();
        let raw = format!("{}{}{}", self.shortcode, self.passkey, stamp);
        (base64(raw.as_bytes()), stamp)
    }

    /// Sends the prompt to the phone (`2547…`): the CheckoutRequestID and MerchantRequestID.
    pub async fn push(
        &self,
        phone: &str,
        shillings: i64,
        account_ref: &str,
    ) -> Result<(String, String), DarajaError> {
        let token = self.token().await?;
        let (password, stamp) = self.password();
        let body = json!({
            "BusinessShortCode": self.shortcode, "Password": password, "Timestamp": stamp,
            "TransactionType": "CustomerPayBillOnline", "Amount": shillings,
            "PartyA": phone, "PartyB": self.shortcode, "PhoneNumber": phone,
            "CallBackURL": self.callback_url, "AccountReference": account_ref,
            "TransactionDesc": "Hospital bill",
        });
        let v = self
            .call(
                "/mpesa/stkpush/v1/processrequest",
                Some(&token),
                Some(&body),
            )
            .await?;
        let code = v["ResponseCode"].as_str().unwrap_or("");
        match (code, v["CheckoutRequestID"].as_str()) {
            ("0", Some(checkout)) => Ok((
                checkout.to_string(),
                v["MerchantRequestID"].as_str().unwrap_or("").to_string(),
            )),
            _ => Err(DarajaError::Refused(
                code.to_string(),
                v["ResponseDescription"].as_str().unwrap_or("").to_string(),
            )),
        }
    }

    /// Asks what became of a push: its ResultCode and ResultDesc (none while still waiting).
    pub async fn query(&self, checkout: &str) -> Result<Option<(String, String)>, DarajaError> {
        let token = self.token().await?;
        let (password, stamp) = self.password();
        let body = json!({
            "BusinessShortCode": self.shortcode, "Password": password, "Timestamp": stamp,
            "CheckoutRequestID": checkout,
        });
        let v = self
            .call("/mpesa/stkpushquery/v1/query", Some(&token), Some(&body))
            .await?;
        let code = match &v["ResultCode"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Ok(None),
        };
        Ok(Some((
            code,
            v["ResultDesc"].as_str().unwrap_or("").to_string(),
        )))
    }
}

/// Standard base64 with padding (HTTP Basic and Daraja's Password).
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), coded);
        }
    }
}
