//! The stronger password policy of the register page (setting `web.password_policy`,
//! off by default because the course's UI tests register with `default`; on in
//! production): at least [`MIN_CHARS`] characters (OWASP ASVS 2.1.1), and hard to guess
//! by `zxcvbn`'s estimate ([`MIN_SCORE`]), which knows common passwords, names and
//! words, keyboard patterns, sequences, repeats, dates and l33t spellings, and is given
//! the username and email so that passwords made of them score low. The simulator API's
//! `POST /register` applies no policy: its contract takes any non-empty password.

use zxcvbn::{zxcvbn, Score};

pub const MIN_CHARS: usize = 12;

/// The lowest `zxcvbn` score taken: 3 is "safely unguessable" (more than 10^8 guesses),
/// the score zxcvbn's authors advise as the least to accept.
pub const MIN_SCORE: Score = Score::Three;

/// What the register page says about the policy when it is on.
pub const HINT: &str = "Use at least 12 characters; common or easily guessed passwords are refused.";

/// Why `password` breaks the policy, as the register page's error text.
pub fn check(password: &str, username: &str, email: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err("The password must have at least 12 characters".into());
    }
    // zxcvbn lowercases the user inputs and matches them in the password; the local
    // part of the email is given on its own, as people use it alone.
    let local = email.split('@').next().unwrap_or_default();
    let estimate = zxcvbn(password, &[username.trim(), email.trim(), local.trim(), "minitwit"]);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let mut error = String::from("This password is too common or easy to guess; please choose another");
    if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        error.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEAK: &str = "This password is too common or easy to guess; please choose another";

    #[test]
    fn short_passwords_are_refused() {
        let short = Err("The password must have at least 12 characters".to_string());
        assert_eq!(check("default", "u", "u@x"), short);
        assert_eq!(check("ååååå", "u", "u@x"), short);
        // Characters are counted, not bytes: eleven of them is short however long in UTF-8.
        assert_eq!(check(&"é".repeat(11), "u", "u@x"), short);
    }

    #[test]
    fn common_and_guessable_passwords_are_refused() {
        for bad in [
            "Password1234",
            "aaaaaaaaaaaaaa",
            "abcdefghijklm",
            "123456789012",
            "qwertyuiopasd",
            "1qaz2wsx3edc4rfv",
            "p@ssw0rd1234",
            "iloveyou12345",
            "minitwitminitwit",
            "01/02/199001/02/1990",
        ] {
            let error = check(bad, "someone", "someone@example.com");
            assert!(error.as_ref().is_err_and(|e| e.starts_with(WEAK)), "{bad}: {error:?}");
        }
    }

    #[test]
    fn the_username_and_email_are_not_passwords() {
        assert!(check("Roger Histand", "roger histand", "r@x").is_err());
        assert!(check("roger@example.com", "roger", "Roger@Example.com").is_err());
        assert!(check("Roger Histand1", "roger histand", "r@x").is_err());
        assert!(check("zebulonwhitcombe!", "someone", "zebulonwhitcombe@example.com").is_err());
        // The same string is fine for someone it does not name.
        assert_eq!(check("zebulonwhitcombe!", "someone", "s@example.com"), Ok(()));
    }

    #[test]
    fn the_error_says_why_when_zxcvbn_knows() {
        let error = check("password1234", "u", "u@x").unwrap_err();
        assert!(error.starts_with(WEAK) && error.len() > WEAK.len(), "{error}");
        assert!(error.ends_with(')') && !error.ends_with(".)"), "{error}");
    }

    #[test]
    fn good_passwords_pass() {
        assert_eq!(check("violet lamp under rain", "u", "u@x"), Ok(()));
        assert_eq!(check("tX9#q2!mLr7$", "u", "u@x"), Ok(()));
        // Beyond the 100 characters zxcvbn reads, a long password is judged by its start.
        assert_eq!(check(&format!("violet lamp under rain {}", "a".repeat(900)), "u", "u@x"), Ok(()));
    }
}
