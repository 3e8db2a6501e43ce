//! Voicemail greetings (Verify 1): a Cloud Voicemail user's standard or extended-absence greeting,
//! a RIFF/WAVE PCM file, kept in the on-premises mailbox as the user configuration
//! `Um.CustomGreetings.External` or `Um.CustomGreetings.Oof` in `root` (BinaryData = the WAV).

use serde::Serialize;

use crate::Skype;
use crate::db::User;
use crate::error::SkypeError;
use crate::wav::{self, WavInfo};

/// Which greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreetingKind {
    /// The standard greeting: `Um.CustomGreetings.External`.
    Standard,
    /// The extended-absence greeting: `Um.CustomGreetings.Oof`.
    ExtendedAbsence,
}

impl GreetingKind {
    pub fn parse(s: &str) -> Result<Self, SkypeError> {
        match s {
            "standard" => Ok(Self::Standard),
            "extended-absence" => Ok(Self::ExtendedAbsence),
            other => Err(SkypeError::NotFound(format!(
                "there is no greeting {:?}; use 'standard' or 'extended-absence'",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The user configuration that holds it.
    pub fn configuration_name(self) -> &'static str {
        match self {
            Self::Standard => "Um.CustomGreetings.External",
            Self::ExtendedAbsence => "Um.CustomGreetings.Oof",
        }
    }
}

/// What an upload did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GreetingSaved {
    pub user: String,
    pub configuration: String,
    /// `CreateUserConfiguration` or `UpdateUserConfiguration`.
    pub operation: String,
    pub bytes: usize,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    pub duration_ms: u64,
}

fn require_voicemail(u: &User) -> Result<(), SkypeError> {
    if u.hosted_voice_mail {
        Ok(())
    } else {
        Err(SkypeError::Conflict(format!(
            "sip:{} does not have Cloud Voicemail; run Set-CsUser -Identity sip:{} -HostedVoiceMail $true",
            u.sip_address, u.sip_address
        )))
    }
}

impl Skype {
    /// Validates the WAV and writes it into the user's mailbox (Update, or Create the first time).
    pub async fn put_greeting(
        &self,
        sip: &str,
        kind: GreetingKind,
        wav_bytes: &[u8],
    ) -> Result<GreetingSaved, SkypeError> {
        let info: WavInfo = wav::validate(wav_bytes)?;
        let user = self.user(sip).await?;
        require_voicemail(&user)?;
        let name = kind.configuration_name();
        let op = self.put_user_config(&user, name, wav_bytes).await?;
        tracing::info!(user = %user.sip_address, configuration = name, bytes = wav_bytes.len(), "greeting saved");
        Ok(GreetingSaved {
            user: format!("sip:{}", user.sip_address),
            configuration: name.to_owned(),
            operation: op.to_owned(),
            bytes: wav_bytes.len(),
            channels: info.channels,
            sample_rate: info.sample_rate,
            bits_per_sample: info.bits_per_sample,
            duration_ms: info.duration_ms,
        })
    }

    /// Reads the greeting back from the mailbox.
    pub async fn get_greeting(&self, sip: &str, kind: GreetingKind) -> Result<Vec<u8>, SkypeError> {
        let user = self.user(sip).await?;
        require_voicemail(&user)?;
        self.get_user_config(&user, kind.configuration_name())
            .await?
            .ok_or_else(|| {
                SkypeError::NotFound(format!(
                    "sip:{} has no {} greeting ({} is not in the mailbox)",
                    user.sip_address,
                    match kind {
                        GreetingKind::Standard => "standard",
                        GreetingKind::ExtendedAbsence => "extended-absence",
                    },
                    kind.configuration_name()
                ))
            })
    }

    /// Deletes the greeting from the mailbox (DeleteUserConfiguration).
    pub async fn delete_greeting(&self, sip: &str, kind: GreetingKind) -> Result<(), SkypeError> {
        let user = self.user(sip).await?;
        require_voicemail(&user)?;
        if self
            .delete_user_config(&user, kind.configuration_name())
            .await?
        {
            Ok(())
        } else {
            Err(SkypeError::NotFound(format!(
                "sip:{} has no {} in the mailbox",
                user.sip_address,
                kind.configuration_name()
            )))
        }
    }
}
