//! `otklik user …` on a data directory and, while the daemon holds the store, through the
//! daemon's API; the refusals that name what is wrong; and `otklik sources` reaching the
//! running daemon through its control file.

mod common;

use common::{otklik, send_signal, stderr, stdout, wait_for, write_config};
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

fn user(config: &std::path::Path, args: &[&str], password: &str) -> Output {
    user_with_env(config, args, password, &[])
}

/// `otklik user ARGS --config CONFIG` with `password` on stdin and extra environment.
fn user_with_env(
    config: &std::path::Path,
    args: &[&str],
    password: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut child = otklik()
        .arg("user")
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn users_are_added_listed_tokened_disabled_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let good = "длинный-пароль-1";

    let out = user(
        &config,
        &[
            "add",
            "ivanova",
            "--role",
            "coordinator",
            "--name",
            "Иванова А. С.",
            "--password-stdin",
        ],
        good,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("координатор"));

    for (args, password, expected) in [
        (
            vec!["add", "ivanova", "--role", "head", "--password-stdin"],
            good,
            "exists already",
        ),
        (
            vec!["add", "petrov", "--role", "official", "--password-stdin"],
            good,
            "needs --owner",
        ),
        (
            vec![
                "add",
                "petrov",
                "--role",
                "official",
                "--owner",
                "atlantida",
                "--password-stdin",
            ],
            good,
            "unknown department or territory `atlantida`",
        ),
        (
            vec![
                "add",
                "petrov",
                "--role",
                "head",
                "--owner",
                "zhkh",
                "--password-stdin",
            ],
            good,
            "only for officials",
        ),
        (
            vec!["add", "petrov", "--role", "head", "--password-stdin"],
            "короткий",
            "too short",
        ),
        (
            vec!["add", "bad login", "--role", "head", "--password-stdin"],
            good,
            "login `bad login`",
        ),
        (
            vec!["add", "petrov", "--role", "boss", "--password-stdin"],
            good,
            "expected admin, coordinator, official or head",
        ),
        (
            vec!["passwd", "nobody", "--password-stdin"],
            good,
            "no user `nobody`",
        ),
    ] {
        let out = user(&config, &args, password);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    let out = user(
        &config,
        &[
            "add",
            "petrov",
            "--role",
            "official",
            "--owner",
            "zhkh",
            "--password-stdin",
        ],
        good,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = user(&config, &["token", "petrov", "--note", "скрипт"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).lines().last().unwrap().trim().to_string();
    assert_eq!(token.len(), 64, "{}", stdout(&out));
    let out = user(&config, &["disable", "petrov"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = user(&config, &["list"], "");
    let list = stdout(&out);
    assert!(
        list.contains("ivanova") && list.contains("активен"),
        "{list}"
    );
    assert!(
        list.contains("petrov") && list.contains("отключён"),
        "{list}"
    );
    assert!(list.contains("Управление ЖКХ"), "{list}");
    let out = user(&config, &["token", "petrov"], "");
    assert!(stderr(&out).contains("disabled"), "{}", stderr(&out));
    let out = user(
        &config,
        &["passwd", "petrov", "--password-stdin"],
        "новый-пароль-2",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&user(&config, &["list"], ""));
    assert!(
        !list.contains("отключён"),
        "a new password enables the account: {list}"
    );

    // The store records who changed what.
    let store = otklik::store::Store::open(&dir.path().join("data/store")).unwrap();
    let kinds: Vec<String> = store
        .access_log()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{:?}", e.login, e.kind))
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("petrov:UserDisabled")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("petrov:TokenIssued")),
        "{kinds:?}"
    );
    let hash = store.user("ivanova").unwrap().unwrap().password_hash;
    assert!(hash.starts_with("$argon2id$") && !hash.contains(good));
}

/// One HTTP/1.1 request to the daemon; the status line and the body.
fn http(listen: &str, request: &str) -> (String, String) {
    use std::io::Read;
    let mut conn = std::net::TcpStream::connect(listen).unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn while_the_daemon_runs_user_commands_go_through_it_and_sources_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log_path = dir.path().join("daemon.log");
    let mut daemon = Daemon(
        otklik()
            .args(["run", "--config"])
            .arg(&config)
            .env("OTKLIK__API__LISTEN", &listen)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for(Duration::from_secs(20), "the daemon to be ready", || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("otklik is running")
    });
    let with_api = |args: &[&str], password: &str| {
        user_with_env(&config, args, password, &[("OTKLIK__API__LISTEN", &listen)])
    };

    let good = "длинный-пароль-1";
    let out = with_api(
        &[
            "add",
            "x1",
            "--role",
            "official",
            "--owner",
            "zhkh",
            "--password-stdin",
        ],
        good,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Управление ЖКХ"), "{}", stdout(&out));
    // Refusals come back from the daemon with what is wrong.
    let out = with_api(&["add", "x1", "--role", "head", "--password-stdin"], good);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    let out = with_api(&["passwd", "nobody", "--password-stdin"], good);
    assert!(
        stderr(&out).contains("no user `nobody`"),
        "{}",
        stderr(&out)
    );

    // The new account signs in to the running daemon at once (the login form's CSRF cookie
    // and field first).
    let (status, page) = http(
        &listen,
        &format!("GET /login HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n"),
    );
    assert!(status.contains("200"), "{status}");
    let csrf = common::desk::csrf_field(&page).expect("the login form has a csrf field");
    let form = format!(
        "login=x1&password=%D0%B4%D0%BB%D0%B8%D0%BD%D0%BD%D1%8B%D0%B9-%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C-1&csrf={csrf}"
    );
    let (status, _) = http(
        &listen,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {listen}\r\nCookie: {}={csrf}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            otklik::web::auth::LOGIN_CSRF_COOKIE,
            form.len()
        ),
    );
    assert!(status.contains("303"), "{status}");

    let out = with_api(&["token", "x1", "--note", "скрипт"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).lines().last().unwrap().trim().to_string();
    let incidents = |token: &str| {
        http(
            &listen,
            &format!(
                "GET /api/v1/incidents HTTP/1.1\r\nHost: {listen}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ),
        )
        .0
    };
    assert!(incidents(&token).contains("200"), "{}", incidents(&token));
    // A user's token is no key to the accounts: they are for the daemon's own command line.
    let (status, body) = http(
        &listen,
        &format!(
            "GET /api/v1/users HTTP/1.1\r\nHost: {listen}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(status.contains("403"), "{status} {body}");
    assert!(body.contains("control token"), "{body}");
    // With the control token, a body that does not fit is a 400 in the API's error form.
    let control: otklik::control::ControlFile = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("data").join(otklik::control::CONTROL_FILE))
            .unwrap(),
    )
    .unwrap();
    let json = r#"{"login":"x2","role":"mayor","password":"длинный-пароль-1"}"#;
    let (status, body) = http(
        &listen,
        &format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: {listen}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            control.token,
            json.len()
        ),
    );
    assert!(status.contains("400"), "{status} {body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("unknown variant `mayor`"),
        "{body}"
    );

    let out = with_api(&["disable", "x1"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        incidents(&token).contains("401"),
        "a disabled account's token stops working"
    );
    let list = stdout(&with_api(&["list"], ""));
    assert!(list.contains("x1") && list.contains("отключён"), "{list}");

    let out = otklik()
        .args(["sources", "--json", "--config"])
        .arg(&config)
        .env("OTKLIK__API__LISTEN", &listen)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim_start().starts_with('['),
        "{}",
        stdout(&out)
    );

    // `sources` went through the daemon's control file, not the store.
    assert!(
        dir.path()
            .join("data")
            .join(otklik::control::CONTROL_FILE)
            .exists()
    );

    send_signal(&daemon.0, "TERM");
    assert!(daemon.0.wait().unwrap().success());
}

/// The daemon of a test, killed if the test fails before stopping it.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
