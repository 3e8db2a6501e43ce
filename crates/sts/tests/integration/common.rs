//! The STS on an ephemeral loopback port, with a manual clock, test keys and request helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::{ClientAssertionSpec, ManualClock, PrincipalName, SigningKey, jwt};
use serde_json::{Map, Value};
use sts::client::{AdminClient, StsClient};
use sts::{Config, SetServicePrincipal, Sts};
use time::OffsetDateTime;

/// The lab's "now": 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
pub const DOMAIN: &str = "contoso.example";
pub const EXCHANGE_HOST: &str = "mail.contoso.example";

/// Test keys, generated once per test binary (RSA key generation is slow):
/// 0 Skype's first-party key, 1 Exchange's auth certificate, 2 a tenant application's key,
/// 3 an attacker's key.
pub fn key(n: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        let t = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        ["skype", "exchange auth", "tenant app", "attacker"]
            .iter()
            .map(|cn| {
                SigningKey::generate_self_signed(cn, t(NOW - 30 * 86_400), t(NOW + 365 * 86_400))
                    .unwrap()
            })
            .collect()
    })[n]
}

pub const SKYPE_KEY: usize = 0;
pub const EXCHANGE_KEY: usize = 1;
pub const APP_KEY: usize = 2;
pub const ATTACKER_KEY: usize = 3;

pub fn rsa1024_b64() -> &'static str {
    include_str!("../fixtures/rsa1024.cer.b64")
}

pub struct Lab {
    pub sts: Sts,
    pub clock: ManualClock,
    pub base: String,
    pub admin: AdminClient,
    pub public: StsClient,
    pub realm: String,
    pub http: reqwest::Client,
    pub server: tokio::task::JoinHandle<()>,
}

impl Lab {
    /// An in-memory STS with the tenant contoso.example.
    pub async fn start() -> Lab {
        Lab::start_in(None, ManualClock::new(NOW), true).await
    }

    pub async fn start_in(data_dir: Option<&Path>, clock: ManualClock, with_tenant: bool) -> Lab {
        Lab::start_with(data_dir, clock, with_tenant, None).await
    }

    /// An in-memory STS with the tenant, served with the callers' addresses (as the lab and
    /// `openhybrid serve sts` do), allowing `failures` failed client authentications per
    /// address per minute.
    pub async fn start_limited(failures: u32) -> Lab {
        Lab::start_with(None, ManualClock::new(NOW), true, Some(failures)).await
    }

    /// An in-memory STS with the tenant whose clock, once the returned flag is set, moves one
    /// second forward after every reading: for races between two readings in one request.
    pub async fn start_ticking() -> (Lab, Arc<AtomicBool>) {
        let clock = ManualClock::new(NOW);
        let on = Arc::new(AtomicBool::new(false));
        let ticking = Ticking {
            clock: clock.clone(),
            on: on.clone(),
        };
        let lab = Lab::start_with_clock(None, clock, Arc::new(ticking), true, None).await;
        (lab, on)
    }

    async fn start_with(
        data_dir: Option<&Path>,
        clock: ManualClock,
        with_tenant: bool,
        failures: Option<u32>,
    ) -> Lab {
        let shared = Arc::new(clock.clone());
        Lab::start_with_clock(data_dir, clock, shared, with_tenant, failures).await
    }

    async fn start_with_clock(
        data_dir: Option<&Path>,
        clock: ManualClock,
        shared: s2s_proto::SharedClock,
        with_tenant: bool,
        failures: Option<u32>,
    ) -> Lab {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::new(base.clone(), shared);
        config.data_dir = data_dir.map(Path::to_owned);
        if let Some(f) = failures {
            config.auth_failures_per_minute = f;
        }
        let sts = Sts::open(config).unwrap();
        let router = sts.router();
        let server = tokio::spawn(async move {
            if failures.is_some() {
                let svc = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                axum::serve(listener, svc).await.unwrap();
            } else {
                axum::serve(listener, router).await.unwrap();
            }
        });
        let admin = AdminClient::new(&base, sts.admin_credential());
        let realm = if with_tenant {
            admin.create_tenant(DOMAIN, None).await.unwrap().realm
        } else {
            String::new()
        };
        Lab {
            public: admin.public().clone(),
            admin,
            sts,
            clock,
            base,
            realm,
            http: reqwest::Client::new(),
            server,
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/tokens/OAuth/2", self.base, self.realm)
    }

    pub fn now(&self) -> i64 {
        use s2s_proto::Clock;
        self.clock.unix()
    }

    /// Registers Skype's first-party key and adds the Exchange host to the 00000002 SPNs: what
    /// the token happy path needs.
    pub async fn prepare_f1(&self) {
        self.sts
            .provision_first_party(SKYPE_APP_ID, key(SKYPE_KEY).certificate())
            .await
            .unwrap();
        self.add_spn(
            EXCHANGE_APP_ID,
            &format!("{EXCHANGE_APP_ID}/{EXCHANGE_HOST}"),
        )
        .await;
    }

    /// Skype's actor token for this lab's Exchange, as F1 requests it (the happy path).
    pub async fn skype_actor_token(
        &self,
    ) -> Result<s2s_proto::wire::TokenResponse, sts::client::ClientError> {
        self.public
            .request_actor_token(
                &self.realm,
                SKYPE_APP_ID,
                &self.exchange_resource(),
                key(SKYPE_KEY),
                self.now(),
            )
            .await
    }

    pub async fn add_spn(&self, app_id: &str, spn: &str) {
        let sp = self
            .admin
            .get_msol_service_principal_by_app_id(&self.realm, app_id)
            .await
            .unwrap();
        let mut spns = sp.service_principal_names;
        spns.push(spn.to_owned());
        self.admin
            .set_msol_service_principal(
                &self.realm,
                app_id,
                &SetServicePrincipal {
                    service_principal_names: Some(spns),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    pub fn exchange_resource(&self) -> String {
        format!("{EXCHANGE_APP_ID}/{EXCHANGE_HOST}@{}", self.realm)
    }

    /// The claims and header of a valid client assertion for `app_id`.
    pub fn assertion_parts(
        &self,
        app_id: &str,
        key_n: usize,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let now = self.now();
        let claims = ClientAssertionSpec {
            client: PrincipalName::app(app_id, &self.realm),
            audience: self.token_endpoint(),
            jti: format!("jti-{}", uuid_like(now, app_id)),
            iat: now,
            exp: now + 300,
        }
        .claims();
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        header.insert("alg".into(), "RS256".into());
        header.insert("x5t".into(), key(key_n).certificate().x5t.clone().into());
        (header, claims)
    }

    pub fn assertion(&self, app_id: &str, key_n: usize) -> String {
        let (h, c) = self.assertion_parts(app_id, key_n);
        jwt::sign_with_header(key(key_n), &h, &c).unwrap()
    }

    /// A token request form.
    pub fn form(&self, app_id: &str, assertion: &str, resource: &str) -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), format!("{app_id}@{}", self.realm)),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion".into(), assertion.into()),
            ("resource".into(), resource.into()),
        ]
    }

    /// POSTs a form to the token endpoint of `realm`; returns status and JSON body.
    pub async fn post_token(&self, realm: &str, form: &[(String, String)]) -> (u16, Value) {
        let url = format!("{}/{realm}/tokens/OAuth/2", self.base);
        let resp = self.http.post(url).form(form).send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// See [`Lab::start_ticking`].
#[derive(Debug)]
struct Ticking {
    clock: ManualClock,
    on: Arc<AtomicBool>,
}

impl s2s_proto::Clock for Ticking {
    fn unix(&self) -> i64 {
        let t = self.clock.unix();
        if self.on.load(std::sync::atomic::Ordering::SeqCst) {
            self.clock.advance(1);
        }
        t
    }
}

/// Distinct jti values without randomness in the test itself.
fn uuid_like(now: i64, app: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{now}-{app}-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// The AADSTS number of an error body.
pub fn code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

pub fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap_or("")
}

/// Checks the AADSTS error shape and returns the code.
pub fn assert_aadsts(body: &Value) -> u64 {
    let d = description(body);
    let c = code(body);
    assert!(
        d.starts_with(&format!("AADSTS{c}: ")),
        "description does not start with the code: {body}"
    );
    for part in [
        "\r\nTrace ID: ",
        "\r\nCorrelation ID: ",
        "\r\nTimestamp: 20",
    ] {
        assert!(d.contains(part), "{part:?} missing in {d}");
    }
    assert!(body["error"].is_string(), "{body}");
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
    assert!(body["timestamp"].as_str().unwrap_or("").ends_with('Z'));
    c
}
