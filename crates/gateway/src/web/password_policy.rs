//! The stronger password policy of the register page (setting `web.password_policy`,
//! off by default because the course's UI tests register with `default`; on in
//! production): at least [`MIN_CHARS`] characters (OWASP ASVS 2.1.1), and not a common,
//! trivially guessable one, nor the username or email.

pub const MIN_CHARS: usize = 12;

/// What the register page says about the policy when it is on.
pub const HINT: &str = "Use at least 12 characters; common passwords are refused.";

/// Common passwords of at least 12 characters (shorter ones fail the length rule),
/// compared ignoring case.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123123123123",
    "123456123456",
    "111111111111",
    "000000000000",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwertyuiopasdfgh",
    "1q2w3e4r5t6y",
    "q1w2e3r4t5y6",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "zaq12wsxcde3",
    "asdfghjkl123",
    "abc123456789",
    "abcd12345678",
    "123456789abc",
    "password1234",
    "password12345",
    "password123!",
    "passwordpassword",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "iloveyou1234",
    "iloveyou12345",
    "changeme1234",
    "letmein12345",
    "welcome12345",
    "welcome123456",
    "administrator",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "superman1234",
    "sunshine1234",
    "princess1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "correcthorsebatterystaple",
    "minitwit1234",
    "minitwitminitwit",
];

/// Keyboard and alphabet runs: a password that is a piece of one is refused.
const RUNS: &[&str] = &[
    "01234567890123456789",
    "98765432109876543210",
    "abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba",
    "qwertyuiopasdfghjklzxcvbnm",
];

/// Why `password` breaks the policy, as the register page's error text.
pub fn check(password: &str, username: &str, email: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_CHARS {
        return Err("The password must have at least 12 characters");
    }
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    let one_character = chars.all(|c| Some(c) == first);
    if one_character
        || COMMON.contains(&lower.as_str())
        || RUNS.iter().any(|run| run.contains(lower.as_str()))
        || lower == username.trim().to_lowercase()
        || lower == email.trim().to_lowercase()
    {
        return Err("This password is too common or easy to guess; please choose another");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(check("default", "u", "u@x"), Err("The password must have at least 12 characters"));
        assert_eq!(check("ååååå", "u", "u@x"), Err("The password must have at least 12 characters"));
    }

    #[test]
    fn common_and_guessable_passwords_are_refused() {
        for bad in ["Password1234", "aaaaaaaaaaaaaa", "abcdefghijklm", "123456789012", "qwertyuiopasd"] {
            assert!(check(bad, "someone", "someone@example.com").is_err(), "{bad}");
        }
        assert!(check("Roger Histand", "roger histand", "r@x").is_err());
        assert!(check("roger@example.com", "roger", "Roger@Example.com").is_err());
    }

    #[test]
    fn good_passwords_pass() {
        assert_eq!(check("violet lamp under rain", "u", "u@x"), Ok(()));
        assert_eq!(check("tX9#q2!mLr7$", "u", "u@x"), Ok(()));
    }
}
