//! People who sign in to the web interface and the API: accounts, sessions, API tokens, and
//! the access log (sign-ins and every view of an author's personal data).
//!
//! Secrets are never stored: passwords as argon2id hashes, sessions and tokens as the SHA-256
//! of the random value the browser or script holds, so a copy of the store opens no door.

use super::{Result, Store, from_json, key, to_json};
use crate::org::Owner;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(super) const USER: &[u8] = b"us/";
pub(super) const SESSION: &[u8] = b"ss/";
pub(super) const TOKEN: &[u8] = b"tk/";
pub(super) const ACCESS_LOG: &[u8] = b"al/";

/// What a user may do (the four roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users and sources; no incident work, no personal data.
    Admin,
    /// Works the whole queue and sees authors.
    Coordinator,
    /// Sees and acts on the incidents of one department or territory.
    Official,
    /// Reads everything, acts on nothing.
    Head,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Coordinator, Role::Official, Role::Head];

    pub fn id(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::Official => "official",
            Role::Head => "head",
        }
    }

    pub fn from_id(id: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == id)
    }

    pub fn label_ru(self) -> &'static str {
        match self {
            Role::Admin => "администратор",
            Role::Coordinator => "координатор",
            Role::Official => "исполнитель",
            Role::Head => "руководитель",
        }
    }
}

/// An account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    /// Name and position as shown in the interface and the timeline.
    pub name: String,
    pub role: Role,
    /// For an official: the department or territory whose incidents they work.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// argon2id, PHC string format.
    pub password_hash: String,
    #[serde(default)]
    pub disabled: bool,
    pub created: DateTime<Utc>,
}

/// A signed-in browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub login: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// A token a script presents as `Authorization: Bearer …`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub login: String,
    pub created: DateTime<Utc>,
    /// What the token is for, as its owner said.
    #[serde(default)]
    pub note: Option<String>,
}

/// One entry of the access log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessEvent {
    pub at: DateTime<Utc>,
    /// The user's login (for a failed sign-in: the login tried).
    pub login: String,
    #[serde(flatten)]
    pub kind: AccessKind,
    /// Address of the client, when known.
    #[serde(default)]
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessKind {
    SignedIn,
    SignInFailed,
    SignInLimited,
    SignedOut,
    /// An author's name or profile link was shown: which post.
    PersonalDataViewed {
        post: String,
    },
    UserAdded {
        role: Role,
    },
    PasswordChanged,
    UserDisabled,
    TokenIssued,
}

impl Store {
    pub fn user(&self, login: &str) -> Result<Option<User>> {
        let k = key(USER, login.as_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    /// Every account, by login.
    pub fn users(&self) -> Result<Vec<User>> {
        self.data
            .scan_prefix(USER)
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }

    /// Create or replace an account, durably.
    pub fn save_user(&self, user: &User) -> Result<()> {
        self.data
            .insert(key(USER, user.login.as_bytes()), to_json(user))?;
        self.flush()
    }

    /// Remember a session under the SHA-256 of its id.
    pub fn save_session(&self, id_hash: &str, session: &Session) -> Result<()> {
        self.data
            .insert(key(SESSION, id_hash.as_bytes()), to_json(session))?;
        self.flush()
    }

    pub fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let k = key(SESSION, id_hash.as_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    pub fn remove_session(&self, id_hash: &str) -> Result<()> {
        self.data.remove(key(SESSION, id_hash.as_bytes()))?;
        self.flush()
    }

    /// End every session of `login` (password changed, account disabled).
    pub fn remove_sessions_of(&self, login: &str) -> Result<usize> {
        let mut removed = 0;
        for kv in self.data.scan_prefix(SESSION) {
            let (k, v) = kv?;
            let session: Session = from_json(&k, &v)?;
            if session.login == login {
                self.data.remove(k)?;
                removed += 1;
            }
        }
        self.flush()?;
        Ok(removed)
    }

    /// Forget sessions that expired before `now`.
    pub fn remove_expired_sessions(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut removed = 0;
        for kv in self.data.scan_prefix(SESSION) {
            let (k, v) = kv?;
            let session: Session = from_json(&k, &v)?;
            if session.expires <= now {
                self.data.remove(k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Remember an API token under its SHA-256.
    pub fn save_token(&self, hash: &str, token: &ApiToken) -> Result<()> {
        self.data
            .insert(key(TOKEN, hash.as_bytes()), to_json(token))?;
        self.flush()
    }

    pub fn token(&self, hash: &str) -> Result<Option<ApiToken>> {
        let k = key(TOKEN, hash.as_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    /// Append to the access log. Written without a flush of its own when `durable` is
    /// false (a page view must not wait for the disk; the background flush carries it
    /// within half a second).
    pub fn log_access(&self, event: &AccessEvent, durable: bool) -> Result<()> {
        let id = self.db.generate_id()?;
        self.data
            .insert(key(ACCESS_LOG, &id.to_be_bytes()), to_json(event))?;
        if durable {
            self.flush()?;
        }
        Ok(())
    }

    /// Log several events at once (the authors of a page of search results).
    pub fn log_accesses(&self, events: &[AccessEvent]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for event in events {
            let id = self.db.generate_id()?;
            batch.insert(key(ACCESS_LOG, &id.to_be_bytes()), to_json(event));
        }
        self.data.apply_batch(batch)?;
        // The access log is an audit trail: durable before the data is shown.
        self.flush()
    }

    /// The access log, oldest first.
    pub fn access_log(&self) -> Result<Vec<AccessEvent>> {
        self.data
            .scan_prefix(ACCESS_LOG)
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }
}
