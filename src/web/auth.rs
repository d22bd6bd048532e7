//! Who is asking, and what they may do: sessions and API tokens, CSRF, sign-in rate limits,
//! and the role checks every page and endpoint goes through.
//!
//! - A browser holds a random session id in an HttpOnly, SameSite=Strict cookie (Secure
//!   behind TLS); the store keeps only its SHA-256. Each session has its own CSRF token,
//!   which every form carries and every POST checks ([`CsrfForm`]).
//! - A script presents `Authorization: Bearer <token>`; tokens are made by
//!   `otklik user token LOGIN` and kept as SHA-256 too.
//! - The sign-in form itself, before there is a session, is protected by a double-submit
//!   cookie.

use crate::api::{AppState, new_token, token_hash};
use crate::org::Owner;
use crate::store::{AccessEvent, AccessKind, Incident, Role, Session, Store, User};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "otklik_session";
/// Name of the double-submit cookie of the sign-in form.
pub const LOGIN_CSRF_COOKIE: &str = "otklik_login";

/// A signed-in user (or a script with a token): what the role checks look at.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub login: String,
    pub name: String,
    pub role: Role,
    /// An official's department or territory.
    pub owner: Option<Owner>,
}

impl Principal {
    fn of(user: &User) -> Principal {
        Principal {
            login: user.login.clone(),
            name: user.name.clone(),
            role: user.role,
            owner: user.owner.clone(),
        }
    }

    /// The daemon's own command-line tools (the control token of `daemon.json`).
    fn local_cli() -> Principal {
        Principal {
            login: "otklik-cli".into(),
            name: "командная строка otklik".into(),
            role: Role::Admin,
            owner: None,
        }
    }

    /// Whether the incident belongs to this official's department or territory.
    fn owns(&self, incident: &Incident) -> bool {
        self.owner.is_some() && incident.owner == self.owner
    }
}

/// Whether `user` may see `incident`: everyone but an official sees every incident; an
/// official sees those of their department or territory.
pub fn can_read_incident(user: &Principal, incident: &Incident) -> bool {
    match user.role {
        Role::Admin | Role::Coordinator | Role::Head => true,
        Role::Official => user.owns(incident),
    }
}

/// Whether `user` may change `incident` (route, answer, close …): administrators and
/// coordinators any, an official those of their scope, a head none.
pub fn can_act(user: &Principal, incident: &Incident) -> bool {
    match user.role {
        Role::Admin | Role::Coordinator => true,
        Role::Official => user.owns(incident),
        Role::Head => false,
    }
}

/// Whether `user` may see authors' names and profile links: the coordinator, who contacts
/// residents, always; an official only on an incident of their own. Each view is logged
/// ([`log_personal_data_views`]).
pub fn sees_personal_data(user: &Principal, incident: Option<&Incident>) -> bool {
    match user.role {
        Role::Coordinator => true,
        Role::Official => incident.is_some_and(|i| user.owns(i)),
        Role::Admin | Role::Head => false,
    }
}

/// Whether `user` may see the sources' health (an official has no use for it).
pub fn sees_sources(user: &Principal) -> bool {
    matches!(user.role, Role::Admin | Role::Coordinator | Role::Head)
}

/// Record that `user` was shown the authors of `posts` (keys `platform:id`).
pub fn log_personal_data_views(
    store: &Store,
    user: &Principal,
    posts: &[String],
    ip: Option<IpAddr>,
) {
    if posts.is_empty() {
        return;
    }
    let now = Utc::now();
    let events: Vec<AccessEvent> = posts
        .iter()
        .map(|post| AccessEvent {
            at: now,
            login: user.login.clone(),
            kind: AccessKind::PersonalDataViewed { post: post.clone() },
            ip: ip.map(|ip| ip.to_string()),
        })
        .collect();
    if let Err(error) = store.log_accesses(&events) {
        tracing::error!(%error, login = %user.login, "cannot log views of personal data");
    }
}

/// A page's user: signed in through a session, with the CSRF token its forms carry.
/// Pages that take it send a visitor without a session to the sign-in page.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Principal,
    pub csrf: String,
    /// The client's address, for the access log.
    pub ip: Option<IpAddr>,
}

/// What refusing a page looks like: to the sign-in page, or a Russian error page.
pub enum PageRefusal {
    SignIn { next: String },
    Error(super::PageError),
}

impl IntoResponse for PageRefusal {
    fn into_response(self) -> Response {
        match self {
            PageRefusal::SignIn { next } => {
                let next = form_urlencoded_component(&next);
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            PageRefusal::Error(error) => error.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageRefusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Viewer, PageRefusal> {
        let ip = client_ip(parts, state);
        let next = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(PageRefusal::SignIn { next });
        };
        match session_user(&state.store, &id) {
            Ok(Some((user, session))) => Ok(Viewer {
                user: Principal::of(&user),
                csrf: session.csrf,
                ip,
            }),
            Ok(None) => Err(PageRefusal::SignIn { next }),
            Err(error) => {
                tracing::error!(%error, "reading a session");
                Err(PageRefusal::Error(super::PageError::internal()))
            }
        }
    }
}

/// The user behind a session id, if the session is live and the account enabled.
fn session_user(store: &Store, id: &str) -> crate::store::Result<Option<(User, Session)>> {
    let Some(session) = store.session(&token_hash(id))? else {
        return Ok(None);
    };
    if session.expires <= Utc::now() {
        return Ok(None);
    }
    Ok(store
        .user(&session.login)?
        .filter(|u| !u.disabled)
        .map(|u| (u, session)))
}

/// An API caller: a bearer token, or a browser's session (GET requests only reach the API
/// with a cookie, so no CSRF token is needed there).
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub user: Principal,
    pub ip: Option<IpAddr>,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = crate::api::ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ApiCaller, crate::api::ApiError> {
        use crate::api::ApiError;
        let ip = client_ip(parts, state);
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "authenticating an API request");
            ApiError::internal()
        };
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
            let hash = token_hash(token);
            if state
                .web
                .cli_token_hash
                .as_deref()
                .is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
            {
                return Ok(ApiCaller {
                    user: Principal::local_cli(),
                    ip,
                });
            }
            let token = state
                .store
                .token(&hash)
                .map_err(internal)?
                .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
            let user = state
                .store
                .user(&token.login)
                .map_err(internal)?
                .filter(|u| !u.disabled)
                .ok_or_else(|| ApiError::unauthorized("the token's account is disabled"))?;
            return Ok(ApiCaller {
                user: Principal::of(&user),
                ip,
            });
        }
        if let Some(id) = cookie(&parts.headers, SESSION_COOKIE)
            && let Some((user, _)) = session_user(&state.store, &id).map_err(internal)?
        {
            return Ok(ApiCaller {
                user: Principal::of(&user),
                ip,
            });
        }
        Err(ApiError::unauthorized(
            "sign in, or send Authorization: Bearer <token> (`otklik user token LOGIN` makes one)",
        ))
    }
}

/// A form posted by a signed-in user, its CSRF token checked against the session's. Every
/// page form goes through this: `CsrfForm<MyFields>` where `MyFields` are the form's other
/// fields (strings; the `csrf` field is taken out first).
pub struct CsrfForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    inner: T,
}

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = PageRefusal;

    async fn from_request(req: Request, state: &AppState) -> Result<CsrfForm<T>, PageRefusal> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let axum::Form(posted) = axum::Form::<WithCsrf<T>>::from_request(req, state)
            .await
            .map_err(|rejection| PageRefusal::Error(super::PageError::from_form(rejection)))?;
        if !constant_time_eq(posted.csrf.as_bytes(), viewer.csrf.as_bytes()) {
            return Err(PageRefusal::Error(super::PageError::csrf()));
        }
        Ok(CsrfForm {
            viewer,
            form: posted.inner,
        })
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure when served over TLS.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Whether cookies must be Secure: configured so, or nginx says the browser used HTTPS.
pub(crate) fn secure_request(headers: &HeaderMap, state: &AppState) -> bool {
    state.settings.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The client's address: the peer's, or behind a trusted proxy the `X-Real-IP` it sets.
pub(crate) fn client_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    if state.settings.behind_proxy
        && let Some(ip) = parts
            .headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address as an extractor.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientIp, std::convert::Infallible> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random secret (session ids, CSRF tokens), hex.
pub fn new_secret() -> String {
    new_token().expect("the kernel's random source is readable")
}

/// Hash a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_bytes = new_secret();
    let salt =
        SaltString::encode_b64(&salt_bytes.as_bytes()[..16]).expect("16 bytes is a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

/// Whether `password` matches the stored argon2 `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Shown instead of a real hash for unknown logins, so that they take as long as wrong
/// passwords (the timing does not tell which logins exist).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user"))
}

/// Start a session for `login`; returns the id for the cookie.
pub fn start_session(store: &Store, login: &str, hours: u32) -> crate::store::Result<String> {
    let id = new_secret();
    let now = Utc::now();
    store.save_session(
        &token_hash(&id),
        &Session {
            login: login.to_string(),
            created: now,
            expires: now + chrono::Duration::hours(i64::from(hours.max(1))),
            csrf: new_secret(),
        },
    )?;
    Ok(id)
}

/// Failed sign-ins remembered per (address, login) and per address: after
/// [`LoginLimiter::PER_LOGIN`] failures for one login, or [`LoginLimiter::PER_ADDRESS`] from
/// one address, within [`LoginLimiter::WINDOW`], further attempts are refused until the
/// window passes.
#[derive(Default)]
pub struct LoginLimiter {
    failures: HashMap<(Option<IpAddr>, String), Window>,
    by_address: HashMap<Option<IpAddr>, Window>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl LoginLimiter {
    pub const PER_LOGIN: u32 = 5;
    pub const PER_ADDRESS: u32 = 30;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// Whether another attempt may be made now.
    pub fn allows(&mut self, ip: Option<IpAddr>, login: &str) -> bool {
        let now = Instant::now();
        let live = |w: &Window| now.duration_since(w.started) < Self::WINDOW;
        let login_ok = self
            .failures
            .get(&(ip, login.to_lowercase()))
            .is_none_or(|w| !live(w) || w.count < Self::PER_LOGIN);
        let address_ok = self
            .by_address
            .get(&ip)
            .is_none_or(|w| !live(w) || w.count < Self::PER_ADDRESS);
        login_ok && address_ok
    }

    pub fn failed(&mut self, ip: Option<IpAddr>, login: &str) {
        let now = Instant::now();
        if self.failures.len() > 100_000 {
            self.failures
                .retain(|_, w| now.duration_since(w.started) < Self::WINDOW);
            self.by_address
                .retain(|_, w| now.duration_since(w.started) < Self::WINDOW);
        }
        for w in [
            self.failures
                .entry((ip, login.to_lowercase()))
                .or_insert(Window {
                    started: now,
                    count: 0,
                }),
            self.by_address.entry(ip).or_insert(Window {
                started: now,
                count: 0,
            }),
        ] {
            if now.duration_since(w.started) >= Self::WINDOW {
                *w = Window {
                    started: now,
                    count: 0,
                };
            }
            w.count += 1;
        }
    }

    pub fn succeeded(&mut self, ip: Option<IpAddr>, login: &str) {
        self.failures.remove(&(ip, login.to_lowercase()));
    }
}

/// Percent-encode a value for a URL query.
pub fn form_urlencoded_component(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_and_verify() {
        let hash = hash_password("верный пароль");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("верный пароль", &hash));
        assert!(!verify_password("неверный", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_limiter_refuses_after_five_failures_for_one_login_only() {
        let mut limiter = LoginLimiter::default();
        let ip = Some("192.0.2.1".parse().unwrap());
        for _ in 0..LoginLimiter::PER_LOGIN {
            assert!(limiter.allows(ip, "Ivanov"));
            limiter.failed(ip, "Ivanov");
        }
        assert!(!limiter.allows(ip, "ivanov"));
        assert!(limiter.allows(ip, "petrov"));
        assert!(limiter.allows(Some("192.0.2.2".parse().unwrap()), "ivanov"));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; otklik_session=abc".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    fn incident(owner: Option<Owner>) -> Incident {
        let t = Utc::now();
        Incident {
            id: 1,
            status: crate::store::IncidentStatus::Routed,
            opened: t,
            last_mention: t,
            created: t,
            group: "zhkh".into(),
            topic: None,
            territory: Some("shopsha".into()),
            place: None,
            owner,
            urgent: false,
            resonant: false,
            first_post: "vk:1".into(),
            mentions: 1,
            authors: 1,
            summary: String::new(),
            fingerprint: Vec::new(),
            events: 1,
            resolution: None,
            merged_into: None,
            waiting_for: None,
            clock: None,
            milestones: Default::default(),
            pending_answer: None,
        }
    }

    fn user(role: Role, owner: Option<Owner>) -> Principal {
        Principal {
            login: "u".into(),
            name: "u".into(),
            role,
            owner,
        }
    }

    #[test]
    fn roles_read_act_and_see_authors_as_the_issue_says() {
        let zhkh = Some(Owner::Department("zhkh".into()));
        let shopsha = Some(Owner::Territory("shopsha".into()));
        let theirs = incident(zhkh.clone());
        let others = incident(shopsha.clone());
        let unrouted = incident(None);
        let official = user(Role::Official, zhkh.clone());
        for i in [&theirs, &others, &unrouted] {
            for role in [Role::Admin, Role::Coordinator] {
                assert!(can_read_incident(&user(role, None), i));
                assert!(can_act(&user(role, None), i));
            }
            assert!(can_read_incident(&user(Role::Head, None), i));
            assert!(
                !can_act(&user(Role::Head, None), i),
                "a head acts on nothing"
            );
        }
        assert!(can_read_incident(&official, &theirs) && can_act(&official, &theirs));
        for i in [&others, &unrouted] {
            assert!(!can_read_incident(&official, i) && !can_act(&official, i));
        }
        // An official with no scope (never created so, but stored data may say so) owns
        // nothing, not even the unrouted incidents.
        let scopeless = user(Role::Official, None);
        assert!(!can_read_incident(&scopeless, &unrouted));

        assert!(sees_personal_data(&user(Role::Coordinator, None), None));
        assert!(sees_personal_data(&official, Some(&theirs)));
        assert!(!sees_personal_data(&official, Some(&others)));
        assert!(!sees_personal_data(&official, None));
        for role in [Role::Admin, Role::Head] {
            assert!(!sees_personal_data(&user(role, None), Some(&theirs)));
        }
        assert!(!sees_sources(&official));
        assert!(sees_sources(&user(Role::Head, None)));
    }

    #[test]
    fn set_cookie_is_http_only_and_strict() {
        let c = set_cookie(SESSION_COOKIE, "x", "/", Some(60), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
    }
}
