//! Values that are valid by construction: nicknames, e-mail addresses, passwords and the
//! nickname candidates generated for new members.

use rand::Rng;

/// Why a value is not a valid nickname, e-mail address or password; the service's error maps each
/// to its contract answer (a blank nickname is a missing parameter, the rest are GA005).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The nickname is empty or only spaces.
    #[error("blank nickname")]
    BlankNickname,
    /// The nickname breaks the nickname rule.
    #[error("invalid nickname")]
    Nickname,
    /// The e-mail address is empty or only spaces.
    #[error("blank email")]
    BlankEmail,
    /// The e-mail address is malformed.
    #[error("invalid email")]
    Email,
    /// The password is shorter than 8 or longer than 128 characters.
    #[error("password length")]
    PasswordLength,
    /// The password is on the common-password list.
    #[error("common password")]
    CommonPassword,
}

/// Longest nickname, in characters, as the original API allows.
pub const NICKNAME_MAX: usize = 10;
const NICKNAME_MIN: usize = 2;

/// A nickname of 2–10 Latin letters, digits or Hangul (`^[A-Za-z0-9ㄱ-ㅎㅏ-ㅣ가-힣]{2,10}$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

fn is_nickname_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        // ㄱ-ㅎ and ㅏ-ㅣ are adjacent in the compatibility jamo block.
        || ('\u{3131}'..='\u{3163}').contains(&c)
        || ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

impl Nickname {
    /// Checks the rule; blank input is a missing parameter, anything else that fails is GA005.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::BlankNickname);
        }
        let count = raw.chars().count();
        if (NICKNAME_MIN..=NICKNAME_MAX).contains(&count) && raw.chars().all(is_nickname_char) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::Nickname)
        }
    }

    /// The nickname.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds the candidate nicknames for a new or returning member: the provider's name reduced to
/// allowed characters, followed by a random number whose range widens with each of four attempts
/// (`[0, 9000)`, `[0, 90000)`, `[0, 900000)`, `[0, 9000000)`), as the original API drew them.
#[derive(Debug, Clone)]
pub struct NicknameCandidates {
    base: String,
}

/// How many candidates are tried before answering `닉네임 생성 실패`.
pub const NICKNAME_ATTEMPTS: u32 = 4;

impl NicknameCandidates {
    /// Candidates derived from `name` (the provider's display name, or an e-mail's local part).
    pub fn from_name(name: &str) -> Self {
        let base: String = name.chars().filter(|c| is_nickname_char(*c)).collect();
        let base = if base.is_empty() {
            "회원".to_owned()
        } else {
            base
        };
        Self { base }
    }

    /// The candidate of attempt `attempt` (1-based).
    pub fn candidate(&self, attempt: u32) -> Nickname {
        let bound = 9 * 10_u32.pow(attempt.clamp(1, NICKNAME_ATTEMPTS) + 2);
        let number = rand::rng().random_range(0..bound).to_string();
        let room = NICKNAME_MAX - number.len();
        let base: String = self.base.chars().take(room).collect();
        Nickname(format!("{base}{number}"))
    }
}

/// An e-mail address, trimmed and lower-cased so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

const EMAIL_MAX: usize = 254;

impl Email {
    /// Accepts `local@domain.tld` without spaces, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(Invalid::BlankEmail);
        }
        let valid = email.len() <= EMAIL_MAX
            && !email.chars().any(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(email))
        } else {
            Err(Invalid::Email)
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, used as the base of a generated nickname.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// A new password: 8–128 characters and not on the common-password list.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 128;
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn is_common(password: &str) -> bool {
    let lowered = password.to_lowercase();
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .any(|line| !line.is_empty() && !line.starts_with('#') && line == lowered)
}

impl NewPassword {
    /// Checks length (in characters) and the common-password list.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let count = raw.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&count) {
            return Err(Invalid::PasswordLength);
        }
        if is_common(raw) {
            return Err(Invalid::CommonPassword);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nickname_accepts_hangul_latin_and_digits_from_two_to_ten_characters() {
        assert!(Nickname::parse("갤러리ab12").is_ok());
        assert!(Nickname::parse("ㄱㅏ").is_ok());
        assert!(Nickname::parse("a").is_err());
        assert!(Nickname::parse("abcdefghijk").is_err());
        assert!(Nickname::parse("hello world").is_err());
        assert!(Nickname::parse("닉네임!").is_err());
    }

    #[test]
    fn a_blank_nickname_is_a_missing_parameter() {
        assert!(matches!(Nickname::parse("  "), Err(Invalid::BlankNickname)));
    }

    #[test]
    fn generated_nicknames_always_satisfy_the_nickname_rule() {
        for name in ["홍길동", "A very long display name", "🙂🙂", "", "x"] {
            let candidates = NicknameCandidates::from_name(name);
            for attempt in 1..=NICKNAME_ATTEMPTS {
                let nickname = candidates.candidate(attempt);
                assert!(Nickname::parse(nickname.as_str()).is_ok(), "{nickname:?}");
            }
        }
    }

    #[test]
    fn e_mail_addresses_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" A@Example.COM ").unwrap().as_str(),
            "a@example.com"
        );
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@localhost").is_err());
        assert!(Email::parse("a b@example.com").is_err());
    }

    #[test]
    fn passwords_must_be_eight_to_128_characters() {
        assert!(matches!(
            NewPassword::parse("short"),
            Err(Invalid::PasswordLength)
        ));
        assert!(matches!(
            NewPassword::parse(&"x".repeat(129)),
            Err(Invalid::PasswordLength)
        ));
        assert!(NewPassword::parse("correct horse battery").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(matches!(
            NewPassword::parse("Password1"),
            Err(Invalid::CommonPassword)
        ));
        assert!(matches!(
            NewPassword::parse("qwerty123"),
            Err(Invalid::CommonPassword)
        ));
    }
}
