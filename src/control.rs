//! How a command reaches the data directory: directly when no daemon holds it, or through the
//! running daemon's HTTP API when one does (the store admits one process at a time).
//!
//! On start the daemon writes `daemon.json` into the data directory — its API address and a
//! fresh random control token — readable only by its own user (mode 0600), and removes it on a
//! clean stop. Whoever can read that file may act as the administrator from the command line:
//! the same user, or root. Each request names the Unix user who made it, for the timeline.

use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// File name of the control file in the data directory.
pub const CONTROL_FILE: &str = "daemon.json";

/// Header naming the Unix user behind a control request.
pub const ACTOR_HEADER: &str = "x-otklik-actor";

/// What the daemon leaves in the data directory for commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlFile {
    pub url: String,
    pub token: String,
    pub pid: u32,
}

/// Write the control file for a daemon listening on `addr` with control token `token`.
pub fn write(data_dir: &Path, addr: SocketAddr, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = ControlFile {
        url: format!("http://{addr}"),
        token: token.to_string(),
        pid: std::process::id(),
    };
    let path = data_dir.join(CONTROL_FILE);
    let tmp = data_dir.join(format!("{CONTROL_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(&file).expect("serializes"))?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// Remove the control file (clean stop).
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(CONTROL_FILE));
}

/// Read the control file, if there is one.
pub fn read(data_dir: &Path) -> Result<Option<ControlFile>, AccessError> {
    let path = data_dir.join(CONTROL_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AccessError::Control {
                path,
                problem: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AccessError::Control {
            path,
            problem: e.to_string(),
        }),
    }
}

/// Why a command cannot reach the data.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the daemon holds {dir} but left no control file ({CONTROL_FILE}): its HTTP interface is off (api.listen is empty) or it is still starting; stop the daemon or enable api.listen"
    )]
    NoControl { dir: PathBuf },
    #[error("control file {path}: {problem}")]
    Control { path: PathBuf, problem: String },
    #[error("the daemon at {url}: {problem}")]
    Daemon { url: String, problem: String },
}

/// Access to a data directory.
pub enum Access {
    /// No daemon runs: the store is ours.
    Direct(Store),
    /// A daemon runs: ask it.
    Daemon(Client),
}

/// Open the store of `data_dir`, or, when a daemon holds it, a client of that daemon.
pub fn open(data_dir: &Path) -> Result<Access, AccessError> {
    // A running daemon left its control file: ask it, without trying the store.
    if let Some(control) = read(data_dir)?
        && Path::new(&format!("/proc/{}", control.pid)).exists()
    {
        return Ok(Access::Daemon(Client::new(control)));
    }
    let store_dir = crate::daemon::DataDir::new(data_dir).store();
    match Store::open(&store_dir) {
        Ok(store) => Ok(Access::Direct(store)),
        Err(StoreError::Locked { .. }) => match read(data_dir)? {
            Some(control) => Ok(Access::Daemon(Client::new(control))),
            None => Err(AccessError::NoControl {
                dir: data_dir.to_path_buf(),
            }),
        },
        Err(e) => Err(e.into()),
    }
}

/// A client of the running daemon's API, authenticated with the control token.
pub struct Client {
    control: ControlFile,
    http: reqwest::Client,
}

impl Client {
    pub fn new(control: ControlFile) -> Client {
        Client {
            control,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("an HTTP client without TLS settings builds"),
        }
    }

    pub fn url(&self) -> &str {
        &self.control.url
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.control.url))
            .bearer_auth(&self.control.token)
            .header(ACTOR_HEADER, unix_user())
    }

    /// GET a JSON document.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, AccessError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// GET a document as bytes (the reports: HTML, DOCX, XLSX …).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, AccessError> {
        let err = |problem: String| AccessError::Daemon {
            url: self.control.url.clone(),
            problem,
        };
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(err(format!("{status}: {message}")));
        }
        Ok(bytes.to_vec())
    }

    /// POST a JSON body, read a JSON answer.
    pub async fn post<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, AccessError> {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AccessError> {
        let err = |problem: String| AccessError::Daemon {
            url: self.control.url.clone(),
            problem,
        };
        let response = request.send().await.map_err(|e| err(e.to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                // API errors are {"error": kind, "detail": what is wrong}.
                .and_then(|v| {
                    v.get("detail")
                        .or_else(|| v.get("error"))
                        .and_then(|e| e.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(err(format!("{status}: {message}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| err(format!("unreadable answer: {e}")))
    }
}

/// The Unix user running this command, for the timeline.
pub fn unix_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            let uid = own_uid();
            // The account name from the password database, when the environment has none.
            std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|passwd| {
                    passwd.lines().find_map(|line| {
                        let mut fields = line.split(':');
                        let name = fields.next()?;
                        (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
                    })
                })
                .unwrap_or_else(|| format!("uid-{uid}"))
        })
}

fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}
