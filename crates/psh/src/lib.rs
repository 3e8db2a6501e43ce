//! `psh`: the PowerShell subset `openhybrid shell` reads — the subset Microsoft's procedure
//! ("Configure Integration and OAuth between Skype for Business Online and Exchange Server")
//! is written in, parsed for real (lexer → parser → syntax tree → evaluator), and nothing more.
//! A pure library: it does no I/O of its own. Cmdlets run through a [`CmdletHost`] the caller
//! provides (the CLI wires Exchange's admin API and the token service's MSOnline API);
//! output goes to any [`std::io::Write`].
//!
//! # The language
//!
//! - Statements are separated by newlines or `;`. Comments: `# …` to the end of the line and
//!   `<# … #>` blocks. A backtick at the end of a line continues the statement.
//! - `$var = <pipeline>` assigns; a pipeline is exactly **one** command or one value.
//! - A command: `Name -Param value -Switch -Param:$false`. Arguments are named, except that
//!   a Get-, Set- or Remove- cmdlet takes one positional argument as its `-Identity`
//!   (`Get-PartnerApplication SfBOnline`), as PowerShell binds it; a switch is sent as `true`. A parameter followed by a value takes it (`-BinaryEncoded -FileName x`
//!   is a switch and a value; `-Confirm:$false` is the way to pass `false`).
//! - Values: `'single'` and `"double"` quoted strings (double-quoted ones expand `$var`,
//!   `$env:NAME` and `$( … )`, and take backtick escapes such as `` `n `` and `` `" ``); bare
//!   words (`SfBOnline-ApplicationAccount@contoso.example`, `asymmetric`, `00000004-…`);
//!   numbers (`42`, `1.5`); `$True`, `$False`, `$null` (any case); `$var`; `$env:NAME`;
//!   property chains `$user.Identity`, `(Get-AuthConfig).CurrentCertificateThumbprint`; and
//!   parenthesised commands as values (`-Value (Get-AuthCertificateBase64 -FileName x.cer)`).
//! - `$var.Property.Add(value)` appends one value to a list held in a variable, as the OAuth
//!   article's `$p.ServicePrincipalNames.Add("…")` does (it outputs nothing); it is the only
//!   method call.
//! - A statement that is just a value (`$user`, `$p.AppPrincipalId`) prints it.
//! - Variable and property names are case-insensitive. A cmdlet that outputs one object gives
//!   that object, several give an array, none gives `$null`. A property of an array is
//!   collected from its objects (member enumeration); `.Count` is the array's length.
//!   Reading an unset variable, or a property an object does not have, is an error (the
//!   equivalent of `Set-StrictMode`) — a typo must not reach Exchange as `$null`.
//! - Built-ins: `Import-Module MSOnline` (accepted, does nothing), `Connect-MsolService`
//!   ([`CmdletHost::connect`]), `Write-Host` (text), `Write-Output` (values), `Get-Date` (the
//!   session clock, ISO 8601 UTC). Everything else goes to the host.
//!
//! Anything else — `if`, `foreach`, `|` to a second command, operators such as `-eq` or `+`,
//! `[Type]::Method(…)`, `New-Object`, method calls other than `.Add(…)`, script blocks `{ }`,
//! arrays `@( )` and `,`, hashtables `@{ }`, `$( )` outside strings, positional arguments
//! (beyond one `-Identity` for Get-/Set-/Remove-), file-system
//! commands such as `dir` and `cd` — is a [`ParseError`] at the line and column where it starts,
//! naming what was found and listing what is supported ([`SUPPORTED`]). A script that does not
//! parse does not run at all.
//!
//! # The seed's two scripts, translated
//!
//! The procedure's steps 2, 3, 5 (its last two lines) and 6 run verbatim. Its two scripts are
//! .NET code; their effect is provided by the host as cmdlets:
//!
//! **Step 4, `ExportAuthCert.ps1`** reads the thumbprint with
//! `(Get-AuthConfig).CurrentCertificateThumbprint`, finds the certificate with
//! `dir Cert:\LocalMachine\My | where {…}`, and writes `$oAuthCert.Export(Cert)` to
//! `$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer`. Here it is one line, an Exchange cmdlet that
//! exists on real Exchange Server too:
//!
//! ```powershell
//! Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName OAuthCert.cer
//! ```
//!
//! **Step 5, `UploadAuthCert.ps1`** turns that file into base64 with
//! `$cer = New-Object …X509Certificate; $binCert = $cer.GetRawCertData();
//! $credValue = [System.Convert]::ToBase64String($binCert)`. Here:
//!
//! ```powershell
//! Import-Module MSOnline
//! Connect-MsolService
//! $credValue = Get-AuthCertificateBase64 -FileName OAuthCert.cer
//! $ServiceName = "00000004-0000-0ff1-ce00-000000000000"
//! $p = Get-MsolServicePrincipal -ServicePrincipalName $ServiceName
//! New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue
//! ```
//!
//! (or `-Value (Get-AuthCertificateBase64 -FileName OAuthCert.cer)`; a host may also accept
//! the exported file for `-Value` directly). The script lines that remain verbatim
//! (`Import-Module MSOnline`, `$CertFile = "$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer"`,
//! `$ServiceName = …`, `$p = …`, `New-MsolServicePrincipalCredential …`) are in the subset; the
//! .NET lines are rejected with a message pointing here.
//!
//! # Example
//!
//! ```
//! use psh::{CmdletHost, HostError, Session};
//! use serde_json::{Map, Value, json};
//!
//! struct Fake;
//! impl CmdletHost for Fake {
//!     async fn invoke(&mut self, cmdlet: &str, _: Map<String, Value>) -> Result<Vec<Value>, HostError> {
//!         match cmdlet {
//!             "Get-AuthConfig" => Ok(vec![json!({"CurrentCertificateThumbprint": "AB12"})]),
//!             other => Err(HostError::new(format!("no cmdlet {other}"))),
//!         }
//!     }
//! }
//!
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! let mut session = Session::new(time::OffsetDateTime::now_utc);
//! let mut out = Vec::new();
//! block_on(psh::run_script(
//!     "$t = (Get-AuthConfig).CurrentCertificateThumbprint\n\"thumbprint: $t\"",
//!     &mut session, &mut Fake, &mut out,
//! )).unwrap();
//! assert_eq!(String::from_utf8(out).unwrap(), "thumbprint: AB12\n");
//! ```
#![forbid(unsafe_code)]

pub mod ast;
pub mod bind;
mod error;
mod eval;
mod format;
mod lexer;
mod parser;

pub use error::{HostError, ParseError, ShellError};
pub use eval::{CmdletHost, Session, execute, run_line, run_script};
pub use format::{format_objects, to_text};
pub use parser::parse;

/// True when `source` stops in the middle of a string, a `<# #>` comment or a parenthesis, or
/// ends with a line-continuing backtick: an interactive shell should read another line (PowerShell
/// prompts `>>`) and parse the lines together.
pub fn needs_more_input(source: &str) -> bool {
    lexer::needs_more_input(source)
}

/// What the shell supports; every "not supported" error ends with it.
pub const SUPPORTED: &str = "one cmdlet per statement (`Cmdlet -Param value -Switch -Param:$false`), `$var = <cmdlet or value>`, `$var`, `$var.Property`, `(Cmdlet …).Property`, `$var.List.Add(value)`, `$env:NAME`, quoted strings ('…' and \"… $var $($var.Property) …\"), bare words and numbers, `$True`/`$False`/`$null`, `#` and `<# … #>` comments";
