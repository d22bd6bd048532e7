//! Managing accounts (`otklik user …`, the demo): checks, hashing, and an access-log entry for
//! every change.

use super::auth::hash_password;
use crate::org::{Org, Owner};
use crate::store::{AccessEvent, AccessKind, ApiToken, Role, Store, User};
use chrono::Utc;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Check a login: letters, digits, `.`, `_`, `-`; 2 to 64 characters.
pub fn check_login(login: &str) -> Result<(), AccountError> {
    let ok = (2..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!(
            "login `{login}`: use 2 to 64 letters, digits, `.`, `_` or `-`"
        )))
    }
}

pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "the password is too short: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// The scope of an official: a department or territory id of the org chart.
pub fn resolve_owner(org: &Org, id: &str) -> Result<Owner, AccountError> {
    if org.department(id).is_some() {
        return Ok(Owner::Department(id.to_string()));
    }
    if org.territory(id).is_some() {
        return Ok(Owner::Territory(id.to_string()));
    }
    let mut known: Vec<&str> = org.departments.iter().map(|d| d.id.as_str()).collect();
    known.extend(org.territories.iter().map(|t| t.id.as_str()));
    Err(AccountError::Invalid(format!(
        "unknown department or territory `{id}`; expected one of: {}",
        known.join(", ")
    )))
}

/// What `otklik user add` asks for.
pub struct NewUser<'a> {
    pub login: &'a str,
    pub name: Option<&'a str>,
    pub role: Role,
    /// Required for an official, refused for the other roles.
    pub owner: Option<&'a str>,
    pub password: &'a str,
}

pub fn add_user(store: &Store, org: &Org, new: &NewUser) -> Result<User, AccountError> {
    check_login(new.login)?;
    check_password(new.password)?;
    if store.user(new.login)?.is_some() {
        return Err(AccountError::Invalid(format!(
            "user `{}` exists already (`otklik user passwd` changes the password)",
            new.login
        )));
    }
    let owner = match (new.role, new.owner) {
        (Role::Official, Some(id)) => Some(resolve_owner(org, id)?),
        (Role::Official, None) => {
            return Err(AccountError::Invalid(
                "an official needs --owner: the department or territory whose incidents they work"
                    .into(),
            ));
        }
        (_, Some(_)) => {
            return Err(AccountError::Invalid(
                "--owner is only for officials; the other roles see every incident".into(),
            ));
        }
        (_, None) => None,
    };
    let user = User {
        login: new.login.to_string(),
        name: new
            .name
            .map(str::to_string)
            .unwrap_or_else(|| new.login.to_string()),
        role: new.role,
        owner,
        password_hash: hash_password(new.password),
        disabled: false,
        created: Utc::now(),
    };
    store.save_user(&user)?;
    log(
        store,
        &user.login,
        AccessKind::UserAdded { role: user.role },
    )?;
    Ok(user)
}

fn existing(store: &Store, login: &str) -> Result<User, AccountError> {
    store
        .user(login)?
        .ok_or_else(|| AccountError::Invalid(format!("no user `{login}` (`otklik user list`)")))
}

/// Set a new password (and enable the account again); signs out every session.
pub fn set_password(store: &Store, login: &str, password: &str) -> Result<(), AccountError> {
    check_password(password)?;
    let mut user = existing(store, login)?;
    user.password_hash = hash_password(password);
    user.disabled = false;
    store.save_user(&user)?;
    store.remove_sessions_of(login)?;
    log(store, login, AccessKind::PasswordChanged)?;
    Ok(())
}

/// Disable an account: its sessions end and its tokens stop working at once.
pub fn disable(store: &Store, login: &str) -> Result<(), AccountError> {
    let mut user = existing(store, login)?;
    user.disabled = true;
    store.save_user(&user)?;
    store.remove_sessions_of(login)?;
    log(store, login, AccessKind::UserDisabled)?;
    Ok(())
}

/// A new API token for `login`; only its hash is kept.
pub fn issue_token(store: &Store, login: &str, note: Option<&str>) -> Result<String, AccountError> {
    let user = existing(store, login)?;
    if user.disabled {
        return Err(AccountError::Invalid(format!(
            "user `{login}` is disabled; `otklik user passwd` enables it again"
        )));
    }
    let token = super::auth::new_secret();
    store.save_token(
        &crate::api::token_hash(&token),
        &ApiToken {
            login: login.to_string(),
            created: Utc::now(),
            note: note.map(str::to_string),
        },
    )?;
    log(store, login, AccessKind::TokenIssued)?;
    Ok(token)
}

fn log(store: &Store, login: &str, kind: AccessKind) -> Result<(), AccountError> {
    store.log_access(
        &AccessEvent {
            at: Utc::now(),
            login: login.to_string(),
            kind,
            ip: None,
        },
        true,
    )?;
    Ok(())
}
