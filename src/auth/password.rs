//! Password hashing with argon2id at OWASP's recommended minimum (19 MiB, t=2, p=1).
//! Hashing is deliberately slow, so callers run it off the async workers.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password that passed the policy. Kept secret so it never lands in a log.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    /// Any printable character is allowed — bidi and zero-width ones too, since a
    /// password is never shown nor stored as text — but not control characters: they
    /// cannot be typed back at a login form, so one is a paste or client error.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.chars().any(|c| c.is_ascii_control()) {
            return Err(ApiError::invalid_field(
                "password",
                "password must not contain control characters",
            ));
        }
        let chars = raw.chars().count();
        if chars < Self::MIN_LEN {
            return Err(ApiError::invalid_field(
                "password",
                format!("password must have at least {} characters", Self::MIN_LEN),
            ));
        }
        if chars > Self::MAX_LEN {
            return Err(ApiError::invalid_field(
                "password",
                format!("password must have at most {} characters", Self::MAX_LEN),
            ));
        }
        Ok(Password(SecretString::from(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
        .to_string())
}

/// A hash of nothing anyone knows, verified against when the username is unknown so
/// that both cases take the same time and reveal nothing.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = hex::encode(crate::secrets::random_bytes::<16>());
    hash(&Password::parse(&random).expect("32 hex chars pass the policy")).expect("hashing works")
});

/// Verifies `password` against `stored`, or against a dummy hash when there is no user.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// Turns for login password checks (`PASSWORD_CHECKS_AT_ONCE`, default one). A shift's
/// worth of cashiers signing in together then neither starves the counters of CPU nor
/// holds a pooled connection for the tens of milliseconds each check takes, and argon2's
/// 19 MiB working memory is needed only that many times over: with two at once, the
/// logins before a shift were the server's highest memory (BENCHMARKS.md). One check
/// at a time still signs in about 50 people a second. Password changes, PIN settings
/// and activations hash inside their own database work, one person each, outside these
/// turns.
pub fn check_turns(at_once: usize) -> std::sync::Arc<Semaphore> {
    std::sync::Arc::new(Semaphore::new(at_once))
}

/// [`verify`] on a blocking thread, waiting its turn among the checks in flight.
pub async fn verify_in_turn(
    turns: &Semaphore,
    password: String,
    stored: Option<String>,
) -> ApiResult<bool> {
    let _turn = turns
        .acquire()
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("password check queue closed: {e}")))?;
    actix_web::web::block(move || verify(&password, stored.as_deref()))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("password check failed: {e}")))
}

/// Warms the dummy hash at start-up so the first unknown-user login is not faster.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// The schema of a new password as [`Password::parse`] takes it: 8–128 characters, no
/// control characters.
pub fn new_password_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(8))
        .max_length(Some(128))
        .pattern(Some(r"^[^\u0000-\u001F\u007F]*$"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let pw = Password::parse("correct horse").unwrap();
        let phc = hash(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", Some(&phc)));
        assert!(!verify("wrong horse", Some(&phc)));
        assert!(!verify("correct horse", None));
    }

    #[test]
    fn short_and_long_passwords_are_refused() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("long enough").is_ok());
    }

    /// A login's password check waits while every turn is taken, and runs once one is
    /// free: with one turn, argon2's 19 MiB is held once at most.
    #[actix_web::test]
    async fn a_password_check_waits_for_its_turn() {
        let turns = check_turns(1);
        let phc = hash(&Password::parse("correct horse").unwrap()).unwrap();
        let held = turns.clone().acquire_owned().await.unwrap();
        let check = verify_in_turn(&turns, "correct horse".into(), Some(phc));
        tokio::pin!(check);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut check).await;
        assert!(
            waited.is_err(),
            "the check ran while the only turn was taken"
        );
        drop(held);
        assert!(check.await.unwrap(), "the check runs once the turn is free");
    }
}
