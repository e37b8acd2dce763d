//! Ed25519 keys for tokens: only member holds the private key; everyone else holds one or more
//! public keys, each named by a `kid` derived from the key itself so rotation needs no registry.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

use crate::config::Vars;
use secrecy::ExposeSecret;

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not an Ed25519 key in PEM (PKCS#8 private key or SPKI public key).
    #[error("not an Ed25519 {what} in PEM form")]
    Pem {
        /// `private key` or `public key`.
        what: &'static str,
    },
    /// The random source failed.
    #[error("cannot read random bytes for a new key")]
    Random,
    /// A key file could not be read or written.
    #[error("{action} {}", path.display())]
    File {
        /// `cannot read` or `cannot create`.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The private key's file name in a key directory (standalone's `DATA_DIR`, `thegallery keys
/// generate --dir`).
pub const PRIVATE_KEY_FILE: &str = "jwt-private.pem";

/// The public key's file name beside it.
pub const PUBLIC_KEY_FILE: &str = "jwt-public.pem";

/// `kid` of a public key: the first 16 characters of the base64url SHA-256 of its raw bytes.
fn kid_of(public: &ed25519_dalek::VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..16].to_owned()
}

/// The private key that signs tokens.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Writes the key to `dir/jwt-private.pem` (mode 0600, never over an existing file) and its
    /// public key to `dir/jwt-public.pem`, creating `dir`; returns the two paths.
    pub fn write_pair(
        &self,
        dir: &std::path::Path,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;

        let (private_pem, public_pem) = (self.to_pem()?, self.public_pem()?);
        let private = dir.join(PRIVATE_KEY_FILE);
        let public = dir.join(PUBLIC_KEY_FILE);
        fn create(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
            move |source| KeyError::File {
                action: "cannot create",
                path: path.to_owned(),
                source,
            }
        }
        std::fs::create_dir_all(dir).map_err(create(dir))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&private)
            .and_then(|mut file| file.write_all(private_pem.as_bytes()))
            .map_err(create(&private))?;
        std::fs::write(&public, public_pem).map_err(create(&public))?;
        Ok((private, public))
    }

    /// The key in `dir/jwt-private.pem`, or a new one written there with its public key (so the
    /// tokens of a standalone system survive restarts); `true` when it was generated now.
    pub fn load_or_create(dir: &std::path::Path) -> Result<(Self, bool), KeyError> {
        let private = dir.join(PRIVATE_KEY_FILE);
        match std::fs::read_to_string(&private) {
            Ok(pem) => Ok((Self::from_pem(&pem)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.write_pair(dir)?;
                Ok((key, true))
            }
            Err(source) => Err(KeyError::File {
                action: "cannot read",
                path: private,
                source,
            }),
        }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0_u8; 32];
        getrandom::fill(&mut seed).map_err(|_| KeyError::Random)?;
        Self::from_dalek(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| KeyError::Pem {
                what: "private key",
            })?;
        Self::from_dalek(key)
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Pem {
            what: "private key",
        })?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let kid = kid_of(&key.verifying_key());
        Ok(Self { key, encoding, kid })
    }

    /// The key as PKCS#8 PEM (secret: write it only to protected files).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| KeyError::Pem {
                what: "private key",
            })
    }

    /// The matching public key as SPKI PEM.
    pub fn public_pem(&self) -> Result<String, KeyError> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| KeyError::Pem { what: "public key" })
    }

    /// The key id put in each token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, ready to verify what this key signs.
    pub fn verifying_keys(&self) -> VerifyingKeys {
        let mut keys = VerifyingKeys::default();
        keys.insert(self.key.verifying_key());
        keys
    }

    pub(super) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// Reads `JWT_PRIVATE_KEY` (or `JWT_PRIVATE_KEY_FILE`).
    pub fn read(vars: &mut Vars<'_>) -> Option<Self> {
        let pem = vars.required_secret("JWT_PRIVATE_KEY")?;
        match Self::from_pem(pem.expose_secret()) {
            Ok(key) => Some(key),
            Err(e) => {
                vars.problem("JWT_PRIVATE_KEY", e.to_string());
                None
            }
        }
    }
}

/// The public keys a verifier accepts, by `kid`.
#[derive(Clone, Default)]
pub struct VerifyingKeys {
    keys: HashMap<String, DecodingKey>,
}

impl fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<_> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("VerifyingKeys")
            .field("kids", &kids)
            .finish()
    }
}

impl VerifyingKeys {
    /// Reads every `PUBLIC KEY` block of a PEM bundle (one or more keys, for rotation).
    pub fn from_pem_bundle(bundle: &str) -> Result<Self, KeyError> {
        const END: &str = "-----END PUBLIC KEY-----";
        let mut keys = Self::default();
        for block in bundle.split_inclusive(END).filter(|b| b.contains(END)) {
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(block.trim())
                .map_err(|_| KeyError::Pem { what: "public key" })?;
            keys.insert(key);
        }
        if keys.keys.is_empty() {
            return Err(KeyError::Pem { what: "public key" });
        }
        Ok(keys)
    }

    fn insert(&mut self, key: ed25519_dalek::VerifyingKey) {
        let decoding = DecodingKey::from_ed_der(key.as_bytes());
        self.keys.insert(kid_of(&key), decoding);
    }

    /// Accepts tokens of `other`'s keys too.
    #[must_use]
    pub fn merge(mut self, other: Self) -> Self {
        self.keys.extend(other.keys);
        self
    }

    /// The key with this id, if known.
    pub(super) fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    /// Reads `JWT_PUBLIC_KEYS` (or `JWT_PUBLIC_KEYS_FILE`): one or more PEM public keys.
    pub fn read(vars: &mut Vars<'_>) -> Option<Self> {
        let Some(raw) = vars.raw("JWT_PUBLIC_KEYS").or_else(|| {
            let path = vars.raw("JWT_PUBLIC_KEYS_FILE")?;
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(e) => {
                    vars.problem("JWT_PUBLIC_KEYS_FILE", format!("cannot read {path:?}: {e}"));
                    None
                }
            }
        }) else {
            if vars.raw("JWT_PUBLIC_KEYS_FILE").is_none() {
                vars.problem(
                    "JWT_PUBLIC_KEYS",
                    "is required but not set (nor JWT_PUBLIC_KEYS_FILE)",
                );
            }
            return None;
        };
        // Environment values often carry `\n` escapes instead of newlines.
        match Self::from_pem_bundle(&raw.replace("\\n", "\n")) {
            Ok(keys) => Some(keys),
            Err(e) => {
                vars.problem("JWT_PUBLIC_KEYS", e.to_string());
                None
            }
        }
    }
}
