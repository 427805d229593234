//! The gateway's settings: where the services are, the simulator's credentials and
//! client allow-list, sessions, and the web UI's password policy.

use minitwit_api::connections::{check_service_url, ClientTls};
use minitwit_kit::settings::{expose, expose_optional, HttpSettings, LogSettings};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The course's default simulator credentials (`simulator:super_safe!`); production
/// sets its own through `GATEWAY_SIM__AUTHORIZATION_FILE`.
pub const COURSE_AUTHORIZATION: &str = minitwit_api::COURSE_SIM_AUTHORIZATION;

/// Environment variables of the gateway start with `GATEWAY_`.
pub const ENV_PREFIX: &str = "GATEWAY";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Production: refuse to start on the development fallbacks (see [`Settings::load`]).
    pub production: bool,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub services: ServicesSettings,
    pub sim: SimSettings,
    pub session: SessionSettings,
    pub web: WebSettings,
    pub cache: CacheSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            production: false,
            http: HttpSettings::on_port(8080),
            log: LogSettings::default(),
            services: ServicesSettings::default(),
            sim: SimSettings::default(),
            session: SessionSettings::default(),
            web: WebSettings::default(),
            cache: CacheSettings::default(),
        }
    }
}

/// What production must set itself rather than fall back on: each with why.
const PRODUCTION_REQUIRES: &[(&str, &str)] = &[
    (
        "GATEWAY_SIM__AUTHORIZATION_FILE",
        "a file holding the simulator's credential, never the course's published default",
    ),
    ("GATEWAY_SIM__ALLOW_LIST", "the simulator's addresses, never the default `*`"),
    ("GATEWAY_SESSION__KEY_FILE", "a file holding the session key, never a random key per start"),
];

impl Settings {
    /// The settings from the environment. With `GATEWAY_PRODUCTION` on, the start is
    /// refused unless the simulator's credential and the session key come from files and
    /// the allow-list is given and not empty.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(std::env::vars())
    }

    /// [`Settings::load`] with an explicit environment, for tests.
    pub fn load_from(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let settings: Self =
            minitwit_kit::settings::load_from(ENV_PREFIX, &["sim.allow_list"], vars.iter().cloned())?;
        settings.services.client_tls()?;
        if settings.production {
            let given = |name: &str| vars.iter().any(|(k, v)| k == name && !v.trim().is_empty());
            let missing: Vec<String> = PRODUCTION_REQUIRES
                .iter()
                .filter(|(name, _)| !given(name))
                .map(|(name, why)| format!("{name} ({why})"))
                .collect();
            if !missing.is_empty() {
                anyhow::bail!("GATEWAY_PRODUCTION is on, so these must be set: {}", missing.join("; "));
            }
            if settings.sim.allow_list.iter().all(|a| a.trim().is_empty()) {
                anyhow::bail!("GATEWAY_PRODUCTION is on, so GATEWAY_SIM__ALLOW_LIST may not be empty");
            }
            if let Err(why) = check_sim_credential(settings.sim.authorization.expose_secret()) {
                anyhow::bail!("GATEWAY_PRODUCTION is on, so GATEWAY_SIM__AUTHORIZATION_FILE must hold a usable credential: {why}");
            }
        }
        Ok(settings)
    }
}

/// Why a simulator credential is unusable in production, if it is: the `Authorization`
/// header value must be `Basic` with a user name and a password that are not empty. The
/// course's own credential passes (its simulator sends exactly that; the allow-list is
/// what guards it); `Basic c2ltdWxhdG9yOg==` (`simulator:`, what an unset password
/// variable makes) does not. Other schemes are taken as given, if not blank.
pub fn check_sim_credential(value: &str) -> Result<(), &'static str> {
    use base64::Engine as _;
    let value = value.trim();
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return if value.is_empty() { Err("it is empty") } else { Ok(()) };
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "the part after `Basic ` is not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "user:password is not UTF-8")?;
    match decoded.split_once(':') {
        None => Err("the decoded value has no `:` between user and password"),
        Some(("", _)) => Err("the user name is empty"),
        Some((_, "")) => Err("the password is empty"),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicesSettings {
    pub user_url: String,
    pub message_url: String,
    pub follow_url: String,
    /// Budget of one internal call, a retry included; past it the gateway answers 503.
    pub timeout_ms: u64,
    /// Budget of a call that hashes a password (registration, sign-in): in a burst it
    /// queues for one of user-service's hashers (~20 ms a hash, one per core), so 32
    /// registrations at once need more than `timeout_ms`. Never below `timeout_ms`.
    pub hash_timeout_ms: u64,
    /// Retries of failed calls allowed per service, in % of its calls of the last
    /// second (see `minitwit_api::retry`).
    pub retry_budget_percent: u32,
    /// Retries allowed per service and second however few its calls.
    pub retry_min_per_second: u32,
    /// An idempotent call with no answer after this long is sent once more, on a new
    /// connection (likely another replica), and the first good answer taken; hedges
    /// come out of the retry budget. 0: never (see `minitwit_api::retry`).
    pub hedge_after_ms: u64,
    /// Age at which the connection pool to a service is replaced by a new one, so calls
    /// follow the service's DNS name (a new replica gets its share within this long, a
    /// removed one loses its connections); 0: never (see `minitwit_api::connections`).
    pub connection_max_age_ms: u64,
    /// Calls in flight to each service at most (so at most as many connections to it),
    /// those that hash a password aside; a call beyond waits for one to end, within its
    /// time-out. A stall of a service then queues calls here instead of opening a
    /// connection per call, hundreds of TLS handshakes at once. 32 held 3,000 requests/s
    /// with mutual TLS here where 16 and 64 lost requests at 2,500 (BENCHMARKS.md).
    /// 0: no bound (see `minitwit_api::client`).
    pub max_calls_in_flight: usize,
    /// The services' shared token, sent with every call (their `HTTP__SERVICE_TOKEN`;
    /// a Docker secret in the stack: `GATEWAY_SERVICES__TOKEN_FILE`).
    #[serde(serialize_with = "expose_optional")]
    pub token: Option<SecretString>,
    /// Mutual TLS to the services (their `HTTP__TLS__*`); then every URL is `https://`.
    pub tls: ServicesTlsSettings,
}

/// What the gateway presents to the services over mutual TLS (Docker secrets in the
/// stack: `GATEWAY_SERVICES__TLS__CA_FILE`, `GATEWAY_SERVICES__TLS__IDENTITY_FILE`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicesTlsSettings {
    /// The internal CA's certificate (PEM; two during a rotation): the only one trusted.
    pub ca: Option<String>,
    /// The gateway's private key and certificate chain, PEM, in one text.
    #[serde(serialize_with = "expose_optional")]
    pub identity: Option<SecretString>,
}

impl ServicesSettings {
    /// The services' URLs checked, and the mutual TLS to use with them, if any. Refused
    /// (naming the variable) when a URL is not `http://` or `https://` with a host,
    /// when `https://` URLs come without the TLS settings or TLS settings with an
    /// `http://` URL (calls in clear by mistake), and when a certificate does not parse:
    /// at start, not as a 503 on every call.
    pub fn client_tls(&self) -> anyhow::Result<Option<ClientTls>> {
        let var = |key: &str| format!("{}_SERVICES__{key}", ENV_PREFIX);
        let tls = match (&self.tls.ca, &self.tls.identity) {
            (None, None) => None,
            (Some(ca), Some(identity)) => Some(
                ClientTls::from_pem(ca, identity.expose_secret())
                    .map_err(|e| anyhow::anyhow!("{} / {}: {e}", var("TLS__CA"), var("TLS__IDENTITY")))?,
            ),
            _ => anyhow::bail!(
                "{} and {} go together: the CA that signed the services, and the gateway's own \
                 key and certificate that they ask for",
                var("TLS__CA"),
                var("TLS__IDENTITY")
            ),
        };
        let tls_vars = format!("{} and {}", var("TLS__CA"), var("TLS__IDENTITY"));
        for (key, url) in [
            ("USER_URL", &self.user_url),
            ("MESSAGE_URL", &self.message_url),
            ("FOLLOW_URL", &self.follow_url),
        ] {
            check_service_url(url, tls.is_some(), &tls_vars)
                .map_err(|e| anyhow::anyhow!("{}: {e}", var(key)))?;
        }
        Ok(tls)
    }
}

impl Default for ServicesSettings {
    fn default() -> Self {
        Self {
            user_url: "http://127.0.0.1:8081".into(),
            message_url: "http://127.0.0.1:8082".into(),
            follow_url: "http://127.0.0.1:8083".into(),
            timeout_ms: 500,
            hash_timeout_ms: 3000,
            retry_budget_percent: 10,
            retry_min_per_second: 5,
            hedge_after_ms: 100,
            connection_max_age_ms: 10_000,
            max_calls_in_flight: 32,
            token: None,
            tls: ServicesTlsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimSettings {
    /// The exact `Authorization` header value the simulator must send.
    #[serde(serialize_with = "expose")]
    pub authorization: SecretString,
    /// Client addresses (IPs or CIDRs) allowed on the simulator routes; `*` is everyone.
    pub allow_list: Vec<String>,
    /// Upper bound on `no`.
    pub max_no: u32,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self { authorization: COURSE_AUTHORIZATION.into(), allow_list: vec!["*".into()], max_no: 1000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// At least 64 bytes that sign the session cookies. Unset: a random key per start
    /// (sessions then end with the process and differ between replicas).
    #[serde(serialize_with = "expose_optional")]
    pub key: Option<SecretString>,
    /// Mark the cookie `Secure` (serve over TLS).
    pub secure: bool,
    /// A session not used for this long is over (seconds; 7 days).
    pub idle_timeout_s: i64,
    /// A session is over this long after signing in, however used (seconds; 30 days).
    pub absolute_timeout_s: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { key: None, secure: false, idle_timeout_s: 7 * 24 * 3600, absolute_timeout_s: 30 * 24 * 3600 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebSettings {
    /// Refuse short and easily guessed passwords (`zxcvbn`) on the register page (on
    /// in production; off by default because the course's UI tests register with
    /// `default`).
    pub password_policy: bool,
    pub per_page: u32,
    /// Sign-in and sign-up form posts allowed per client address and minute, after a
    /// burst of `form_throttle_burst`; more are answered 429 with `Retry-After`. The
    /// simulator's allow-listed addresses (an explicit list, not `*`) are exempt.
    /// 0: no throttle. On by default at a pace no person reaches (a sign-in every 3 s,
    /// 30 at once): the course's UI and web tests post about 20 forms at full speed
    /// from one address, well inside the burst; a script signing up at will is not.
    pub form_throttle_per_minute: u32,
    pub form_throttle_burst: u32,
}

/// [`WebSettings::form_throttle_per_minute`]'s default.
pub const FORM_THROTTLE_PER_MINUTE: u32 = 20;
/// [`WebSettings::form_throttle_burst`]'s default.
pub const FORM_THROTTLE_BURST: u32 = 30;

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            password_policy: false,
            per_page: 30,
            form_throttle_per_minute: FORM_THROTTLE_PER_MINUTE,
            form_throttle_burst: FORM_THROTTLE_BURST,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    /// Users kept in memory (by name and by id). Users never change, so entries never
    /// go stale; the bound only limits memory.
    pub users: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { users: 100_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_credential_and_other_full_ones_are_usable() {
        assert_eq!(check_sim_credential(COURSE_AUTHORIZATION), Ok(()));
        assert_eq!(check_sim_credential("Basic b3duOnNlY3JldA==\n"), Ok(())); // own:secret
        assert_eq!(check_sim_credential("Bearer some-token"), Ok(()));
    }

    #[test]
    fn an_empty_user_or_password_or_a_garbled_value_is_not() {
        for (value, why) in [
            ("Basic c2ltdWxhdG9yOg==", "the password is empty"), // simulator:
            ("Basic OnNlY3JldA==", "the user name is empty"),    // :secret
            ("Basic c2ltdWxhdG9y", "the decoded value has no `:` between user and password"),
            ("Basic not*base64", "the part after `Basic ` is not base64"),
            ("Basic //79", "user:password is not UTF-8"),
            ("  ", "it is empty"),
        ] {
            assert_eq!(check_sim_credential(value), Err(why), "{value}");
        }
    }

    fn services(urls: &str, tls: Option<(&str, &str)>) -> ServicesSettings {
        let mut s = ServicesSettings::default();
        (s.user_url, s.message_url, s.follow_url) = (urls.into(), urls.into(), urls.into());
        if let Some((ca, identity)) = tls {
            (s.tls.ca, s.tls.identity) = (Some(ca.into()), Some(identity.into()));
        }
        s
    }

    fn refusal(s: &ServicesSettings) -> String {
        format!("{:#}", s.client_tls().err().expect("refused"))
    }

    #[test]
    fn service_urls_and_their_tls_are_checked_at_start() {
        let ca = minitwit_kit::testing::pki::TestCa::new("internal");
        let (pem, identity) = (ca.pem(), ca.identity("gateway"));
        assert!(services("http://user-service:8081", None).client_tls().unwrap().is_none());
        assert!(services("https://user-service:8081", Some((&pem, &identity)))
            .client_tls()
            .unwrap()
            .is_some());

        for (s, says) in [
            (
                services("https://user-service:8081", None),
                "GATEWAY_SERVICES__USER_URL: \"https://user-service:8081\" is https:// but",
            ),
            (
                services("http://user-service:8081", Some((&pem, &identity))),
                "is http:// while mutual TLS is configured",
            ),
            (
                services("user-service:8081", None),
                "GATEWAY_SERVICES__USER_URL: \"user-service:8081\": user-service:// is neither",
            ),
            (services("not a url", None), "is not a URL"),
            (services("http://", None), "is not a URL"),
            (services("https://x", Some((&pem, "no key"))), "the identity is not a private key"),
            (services("https://x", Some(("no CA", &identity))), "the CA holds no certificate"),
        ] {
            let refusal = refusal(&s);
            assert!(refusal.contains(says), "{refusal}");
        }
        let mut half = services("https://x", Some((&pem, &identity)));
        half.tls.identity = None;
        assert!(refusal(&half)
            .contains("GATEWAY_SERVICES__TLS__CA and GATEWAY_SERVICES__TLS__IDENTITY go together"));
    }
}
