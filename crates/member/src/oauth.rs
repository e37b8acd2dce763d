//! The OAuth authorization-code flow with Kakao and Google: the authorize URL (with `state`), the
//! code exchange (form-encoded POST) and the profile read. Endpoints come from configuration so
//! tests point them at a local stand-in.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::config::ProviderConfig;
use crate::error::MemberError;
use crate::store::Identity;

/// A supported provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Kakao.
    Kakao,
    /// Google.
    Google,
}

impl Provider {
    /// Parses `type`; case-insensitive. Blank is a missing parameter.
    pub fn parse(raw: Option<&str>) -> Result<Self, MemberError> {
        let raw = raw.map(str::trim).filter(|t| !t.is_empty());
        match raw.map(str::to_ascii_lowercase).as_deref() {
            None => Err(MemberError::MissingParameter),
            Some("kakao") => Ok(Self::Kakao),
            Some("google") => Ok(Self::Google),
            Some(_) => Err(MemberError::UnsupportedProvider),
        }
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProfile {
    /// The account's identity.
    pub identity: Identity,
    /// Display name, the base of a generated nickname.
    pub name: String,
}

/// Talks to the configured providers.
#[derive(Debug, Clone)]
pub struct OAuth {
    http: reqwest::Client,
    kakao: Option<ProviderConfig>,
    google: Option<ProviderConfig>,
}

const GOOGLE_SCOPE: &str = "openid email profile";

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct KakaoProfile {
    id: i64,
    #[serde(default)]
    kakao_account: Option<KakaoAccount>,
    #[serde(default)]
    properties: Option<KakaoProperties>,
}

#[derive(Deserialize)]
struct KakaoAccount {
    #[serde(default)]
    profile: Option<KakaoProperties>,
}

#[derive(Deserialize)]
struct KakaoProperties {
    #[serde(default)]
    nickname: Option<String>,
}

#[derive(Deserialize)]
struct GoogleProfile {
    sub: String,
    #[serde(default)]
    name: Option<String>,
}

fn provider_failure(e: impl std::fmt::Display) -> MemberError {
    MemberError::Provider(e.to_string())
}

impl OAuth {
    /// A client for the providers that are configured.
    pub fn new(kakao: Option<ProviderConfig>, google: Option<ProviderConfig>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            http,
            kakao,
            google,
        }
    }

    fn config(&self, provider: Provider) -> Result<&ProviderConfig, MemberError> {
        match provider {
            Provider::Kakao => self.kakao.as_ref(),
            Provider::Google => self.google.as_ref(),
        }
        .ok_or(MemberError::UnsupportedProvider)
    }

    /// Whether `provider` is configured.
    pub fn supports(&self, provider: Provider) -> bool {
        self.config(provider).is_ok()
    }

    /// The URL the browser is sent to.
    pub fn authorize_url(&self, provider: Provider, state: &str) -> Result<String, MemberError> {
        let config = self.config(provider)?;
        let mut url = config.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", &config.redirect_uri)
                .append_pair("response_type", "code");
            if provider == Provider::Google {
                query.append_pair("scope", GOOGLE_SCOPE);
            }
            query.append_pair("state", state);
        }
        Ok(url.to_string())
    }

    /// Exchanges `code` and reads the profile.
    pub async fn sign_in(
        &self,
        provider: Provider,
        code: &str,
    ) -> Result<ProviderProfile, MemberError> {
        let config = self.config(provider)?;
        let token = self.exchange(config, code).await?;
        let profile = self
            .http
            .get(config.profile_url.clone())
            .bearer_auth(token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(provider_failure)?;
        match provider {
            Provider::Kakao => {
                let p: KakaoProfile = profile.json().await.map_err(provider_failure)?;
                let name = p
                    .kakao_account
                    .and_then(|a| a.profile)
                    .and_then(|p| p.nickname)
                    .or_else(|| p.properties.and_then(|p| p.nickname))
                    .unwrap_or_default();
                Ok(ProviderProfile {
                    identity: Identity::Kakao(p.id),
                    name,
                })
            }
            Provider::Google => {
                let p: GoogleProfile = profile.json().await.map_err(provider_failure)?;
                Ok(ProviderProfile {
                    identity: Identity::Google(p.sub),
                    name: p.name.unwrap_or_default(),
                })
            }
        }
    }

    async fn exchange(&self, config: &ProviderConfig, code: &str) -> Result<String, MemberError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", config.redirect_uri.as_str()),
        ];
        let secret = config
            .client_secret
            .as_ref()
            .map(platform::ExposeSecret::expose_secret);
        if let Some(secret) = secret {
            form.push(("client_secret", secret));
        }
        let answer = self
            .http
            .post(config.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(provider_failure)?;
        if answer.status().is_client_error() {
            return Err(MemberError::InvalidCode);
        }
        let answer = answer.error_for_status().map_err(provider_failure)?;
        let token: TokenAnswer = answer.json().await.map_err(provider_failure)?;
        Ok(token.access_token)
    }
}

/// Parses a provider endpoint from configuration.
pub fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("expected an http(s) URL".into());
    }
    Ok(url)
}
