//! The integration features: voicemail greetings (Verify 1) and conversation history and
//! archiving (Verify 2 and 3), plus the user lookups they share.

pub mod conversation;
pub mod greeting;

use crate::Skype;
use crate::db::{self, User};
use crate::error::SkypeError;

/// Longest SIP address accepted.
pub const MAX_SIP_LEN: usize = 256;

/// Normalizes a SIP address: without `sip:`, lower case, `local@domain` of safe characters.
pub fn normalize_sip(s: &str) -> Result<String, SkypeError> {
    let t = s.trim();
    let t = match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &t[4..],
        _ => t,
    };
    let t = t.to_ascii_lowercase();
    let bad = || {
        SkypeError::Invalid(format!(
            "{:?} is not a SIP address (sip:user@domain)",
            s.chars().take(80).collect::<String>()
        ))
    };
    if t.is_empty() || t.len() > MAX_SIP_LEN {
        return Err(bad());
    }
    let (local, domain) = t.split_once('@').ok_or_else(bad)?;
    let ok_local = |c: char| c.is_ascii_alphanumeric() || "._-+'".contains(c);
    let ok_domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    if local.is_empty()
        || domain.is_empty()
        || !local.chars().all(ok_local)
        || !domain.chars().all(ok_domain)
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(t)
}

/// The domain part of a normalized SIP address.
pub fn sip_domain(sip: &str) -> &str {
    sip.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

impl Skype {
    /// The user homed here with this SIP address.
    pub async fn user(&self, sip: &str) -> Result<User, SkypeError> {
        let sip = normalize_sip(sip)?;
        let s = sip.clone();
        self.inner
            .db
            .call(move |c| db::user(c, &s))
            .await?
            .ok_or_else(|| {
                SkypeError::NotFound(format!(
                    "no user with SIP address sip:{sip} is homed in Skype for Business Online; run Enable-CsUser"
                ))
            })
    }
}
