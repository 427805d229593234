//! How settings write their secrets when a settings struct seeds the defaults layer
//! (`serialize_with`): in clear, which only that layer ever sees. Apart from
//! `settings` so that the modules whose settings hold secrets (`tls`) need not use the
//! settings module that holds their settings.

use secrecy::SecretString;

/// Serialises a secret in clear: only used to seed the defaults layer.
pub fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

/// Serialises an optional secret in clear: only used to seed the defaults layer.
pub fn expose_optional<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}
