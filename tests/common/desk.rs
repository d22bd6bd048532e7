//! The coordinator's desk for tests: a daemon with its HTTP interface on a loopback port, a
//! few posts pushed and indexed, and one account (with an API token) per role.

use otklik::api::{IngestClient, token_hash};
use otklik::config::Loaded;
use otklik::store::Role;
use otklik::web::accounts::{self, NewUser};
use std::collections::HashMap;

pub const COLLECTOR_TOKEN: &str = "collector-token-0123456789";
pub const PASSWORD: &str = "пароль-для-тестов";
pub const MAX_BODY: usize = 64 * 1024;

/// Login of the test account of each role.
pub fn login_of(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin1",
        Role::Coordinator => "coord1",
        Role::Official => "zhkh1",
        Role::Head => "head1",
    }
}

pub struct Desk {
    pub running: otklik::daemon::Running,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub tokens: HashMap<Role, String>,
}

/// Posts the tests search for: (id, platform, text, territory, author).
pub const POSTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "101",
        "vk",
        "Нет воды на улице Менжинского второй день, когда дадут?",
        "gavrilov-yam",
        "Анна Петрова",
    ),
    (
        "102",
        "vk",
        "Опять нет воды в Шопше, колонка сломана",
        "shopsha",
        "Иван Сидоров",
    ),
    (
        "103",
        "telegram",
        "Огромная яма на дороге у школы в Великом, машины бьются",
        "velikoe",
        "Олег К.",
    ),
    (
        "104",
        "ok",
        "На улице Победы нет света с утра",
        "gavrilov-yam",
        "Мария",
    ),
    (
        "105",
        "vk",
        "Концерт в доме культуры в субботу, приходите",
        "gavrilov-yam",
        "ДК",
    ),
];

pub async fn start() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Loaded::embedded(dir.path().to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    loaded.settings.api.listen = "127.0.0.1:0".into();
    loaded.settings.api.max_body_bytes = MAX_BODY;
    loaded.settings.api.ingest = vec![IngestClient {
        name: "export".into(),
        token_sha256: token_hash(COLLECTOR_TOKEN),
        territory: None,
    }];
    let (activity, _) = tokio::sync::broadcast::channel(64);
    let running = otklik::daemon::start(&loaded, Vec::new(), activity)
        .await
        .unwrap();
    let base = format!("http://{}", running.api_addr.unwrap());
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let login = login_of(role);
        let store = running.store.clone();
        let org = loaded.org.clone();
        let token = tokio::task::spawn_blocking(move || {
            accounts::add_user(
                &store,
                &org,
                &NewUser {
                    login,
                    name: Some(&format!("Тест {}", role.label_ru())),
                    role,
                    owner: (role == Role::Official).then_some("zhkh"),
                    password: PASSWORD,
                },
            )
            .unwrap();
            accounts::issue_token(&store, login, Some("tests")).unwrap()
        })
        .await
        .unwrap();
        tokens.insert(role, token);
    }
    let posts: Vec<serde_json::Value> = POSTS
        .iter()
        .map(|(id, platform, text, territory, author)| {
            serde_json::json!({
                "id": id, "platform": platform, "text": text,
                "published": "2026-11-25T09:15:00+03:00",
                "community": "Подслушано", "community_territory": territory,
                "author": author, "author_url": format!("https://vk.com/id{id}"),
                "url": format!("https://vk.com/wall-1_{id}"),
            })
        })
        .collect();
    let reply = client()
        .post(format!("{base}/api/v1/ingest"))
        .bearer_auth(COLLECTOR_TOKEN)
        .json(&posts)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    running.index.commit().unwrap();
    Desk {
        running,
        base,
        dir,
        tokens,
    }
}

/// An HTTP client that does not follow redirects (the tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The value of cookie `name` set by a response.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()?
                .trim()
                .strip_prefix(&format!("{name}="))
                .map(str::to_string)
        })
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_field(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// URL-encoded form bodies (reqwest's own `form` is behind a feature the crate does not use).
pub trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(pairs).unwrap())
    }
}

/// A signed-in browser session: the cookie header to send.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: String,
}

impl Desk {
    /// Sign in through the form as the browser does; the `Cookie` header of the session.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<SignedIn, reqwest::Response> {
        let c = client();
        let form = c.get(format!("{}/login", self.base)).send().await.unwrap();
        let login_cookie = set_cookie(&form, "otklik_login").unwrap();
        let csrf = csrf_field(&form.text().await.unwrap()).unwrap();
        let r = c
            .post(format!("{}/login", self.base))
            .header("cookie", format!("otklik_login={login_cookie}"))
            .form_body(&[
                ("csrf", csrf.as_str()),
                ("login", login),
                ("password", password),
                ("next", "/search"),
            ])
            .send()
            .await
            .unwrap();
        if r.status() != 303 {
            return Err(r);
        }
        let session = set_cookie(&r, "otklik_session").unwrap();
        Ok(SignedIn {
            cookie: format!("otklik_session={session}"),
        })
    }
}
