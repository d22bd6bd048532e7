//! The HTTP interface over real HTTP: every endpoint under every role (allowed and refused),
//! sign-in, CSRF, rate limits, malformed and huge bodies, hostile query strings, personal
//! data shown only to the roles that need it (and each view logged), and the OpenAPI
//! document kept true to the routes.

mod common;

use common::desk::{self, Desk, FormBody, MAX_BODY, PASSWORD, client, csrf_field, login_of};
use otklik::store::{AccessKind, Role};
use std::time::Duration;

/// Who asks: nobody, or one role through its API token.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    Token(Role),
}

async fn get(desk: &Desk, path: &str, caller: Caller) -> reqwest::Response {
    let mut r = client().get(format!("{}{path}", desk.base));
    if let Caller::Token(role) = caller {
        r = r.bearer_auth(&desk.tokens[&role]);
    }
    r.send().await.unwrap()
}

async fn stop(desk: Desk) {
    tokio::time::timeout(
        Duration::from_secs(20),
        desk.running.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("shutdown in time")
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_endpoint_under_every_role() {
    let desk = desk::start().await;
    let roles = [
        Caller::Anonymous,
        Caller::Token(Role::Admin),
        Caller::Token(Role::Coordinator),
        Caller::Token(Role::Official),
        Caller::Token(Role::Head),
    ];
    // (path, expected status for each caller in `roles` order)
    let matrix: &[(&str, [u16; 5])] = &[
        ("/healthz", [200; 5]),
        ("/metrics", [200; 5]),
        ("/api/v1/openapi.json", [200; 5]),
        ("/api/v1/search?q=вода", [401, 200, 200, 200, 200]),
        ("/api/v1/sources", [401, 200, 200, 403, 200]),
        ("/api/v1/incidents", [401, 200, 200, 200, 200]),
        ("/api/v1/incidents/1", [401, 200, 200, 200, 200]),
        ("/api/v1/incidents/abc", [401, 400, 400, 400, 400]),
    ];
    for (path, expected) in matrix {
        for (caller, want) in roles.iter().zip(expected) {
            let r = get(&desk, path, *caller).await;
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_eq!(status, *want, "{path} as {caller:?}: {body}");
            if status >= 400 {
                let error: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert!(
                    error["error"].is_string() && error["detail"].is_string(),
                    "{body}"
                );
            }
        }
    }
    // Ingest: only collectors' tokens, not users'.
    let r = client()
        .post(format!("{}/api/v1/ingest", desk.base))
        .bearer_auth(&desk.tokens[&Role::Coordinator])
        .json(&serde_json::json!({"id": "x", "text": "t", "published": "2026-11-26T09:15:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A made-up token and a malformed header.
    let r = client()
        .get(format!("{}/api/v1/search", desk.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = client()
        .get(format!("{}/api/v1/search", desk.base))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A wrong method, a broken query string: JSON errors too.
    let r = client()
        .delete(format!("{}/api/v1/search", desk.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    // Bytes that are not UTF-8 are read as replacement characters: nothing found, no error.
    let r = get(&desk, "/api/v1/search?q=%FF%FE", Caller::Token(Role::Head)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["total"], 0);
    let r = get(
        &desk,
        "/api/v1/search?page=1&page=2",
        Caller::Token(Role::Head),
    )
    .await;
    assert_eq!(r.status(), 400, "a repeated parameter");
    // Unknown API paths answer JSON.
    let r = get(&desk, "/api/v1/nothing", Caller::Anonymous).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("openapi.json"));
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_with_facets_histogram_and_highlights() {
    let desk = desk::start().await;
    let r = get(&desk, "/api/v1/search?q=вода", Caller::Token(Role::Head)).await;
    assert_eq!(r.status(), 200);
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["total"], 2, "{found}");
    let snippet = found["hits"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<b>воды</b>"), "{snippet}");
    let facets = &found["facets"];
    let territories: Vec<&str> = facets["territory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert!(
        territories.contains(&"shopsha") && territories.contains(&"gavrilov-yam"),
        "{facets}"
    );
    assert_eq!(facets["platform"][0]["value"], "vk");
    assert_eq!(facets["platform"][0]["count"], 2);
    let histogram = facets["histogram"].as_array().unwrap();
    assert_eq!(histogram.len(), 1, "{facets}");
    assert_eq!(histogram[0]["day"], "2026-11-25");
    assert_eq!(histogram[0]["count"], 2);

    // Over the whole index the term counts come from the dictionary: the same as counted.
    let all: serde_json::Value = get(&desk, "/api/v1/search", Caller::Token(Role::Head))
        .await
        .json()
        .await
        .unwrap();
    let counted: serde_json::Value = get(&desk, "/api/v1/search?q=*", Caller::Token(Role::Head))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["facets"], counted["facets"]);
    assert_eq!(
        all["facets"]["platform"][0],
        serde_json::json!({"value": "vk", "count": 3})
    );
    assert_eq!(all["facets"]["histogram"][0]["count"], 5);

    // Filters and paging.
    let r = get(
        &desk,
        "/api/v1/search?q=вода&territory=shopsha",
        Caller::Token(Role::Head),
    )
    .await;
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["total"], 1);
    let r = get(
        &desk,
        "/api/v1/search?per_page=2&page=3",
        Caller::Token(Role::Head),
    )
    .await;
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["total"], desk::POSTS.len());
    assert_eq!(found["hits"].as_array().unwrap().len(), 1);
    let r = get(
        &desk,
        "/api/v1/search?since=2026-11-26",
        Caller::Token(Role::Head),
    )
    .await;
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["total"], 0);
    let r = get(
        &desk,
        "/api/v1/search?since=2026-11-25&until=2026-11-25&source=telegram",
        Caller::Token(Role::Head),
    )
    .await;
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["total"], 1);
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_malformed_queries_are_refused_with_the_reason() {
    let desk = desk::start().await;
    let who = Caller::Token(Role::Coordinator);
    for (query, names) in [
        ("q=%22unclosed", "q"),
        ("q=a%20AND%20(b", "q"),
        ("q=nosuchfield:x", "q"),
        ("q=%27%3B--", "q"),
        ("q=%3Cscript%3E", "q"),
        ("q=published:%5Bx%20TO", "q"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page=99999999999999999999999", "page"),
        ("per_page=101", "per_page"),
        ("since=yesterday", "since"),
        ("sort=random", "sort"),
        ("incidents=perhaps", "incidents"),
    ] {
        let r = get(&desk, &format!("/api/v1/search?{query}"), who).await;
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "bad_request");
        assert!(
            body["detail"].as_str().unwrap().starts_with(names),
            "{query}: {body}"
        );
    }
    let long = "я".repeat(1001);
    let r = get(&desk, &format!("/api/v1/search?q={long}"), who).await;
    assert_eq!(r.status(), 400);
    // Odd but valid queries answer, and nothing hostile is echoed unescaped by the page.
    for query in [
        "*",
        "NOT концерт",
        "-воды",
        "%00",
        "%F0%9F%92%A7",
        "%22нет%20воды%22",
        "(вода%20OR%20свет)%20AND%20-концерт",
    ] {
        let r = get(&desk, &format!("/api/v1/search?q={query}"), who).await;
        assert_eq!(r.status(), 200, "{query}: {}", r.text().await.unwrap());
    }
    let session = desk.sign_in("coord1", PASSWORD).await.unwrap();
    let page = client()
        .get(format!(
            "{}/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
            desk.base
        ))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    // `<…>` is tantivy's range syntax: refused, and the page echoes it escaped.
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "the query is escaped");
    assert!(html.contains("&lt;script&gt;"));
    let page = client()
        .get(format!("{}/search?q=%22unclosed", desk.base))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("Запрос не разобран"));
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_only_for_the_coordinator_and_each_view_logged() {
    let desk = desk::start().await;
    for role in Role::ALL {
        let r = get(&desk, "/api/v1/search?q=воды", Caller::Token(role)).await;
        let found: serde_json::Value = r.json().await.unwrap();
        let hits = found["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 2);
        for hit in hits {
            assert_eq!(
                hit.get("author").is_some(),
                role == Role::Coordinator,
                "{role:?}: {hit}"
            );
            assert_eq!(hit.get("author_url").is_some(), role == Role::Coordinator);
        }
    }
    let log = desk.running.store.access_log().unwrap();
    let views: Vec<_> = log
        .iter()
        .filter(|e| matches!(e.kind, AccessKind::PersonalDataViewed { .. }))
        .collect();
    assert_eq!(views.len(), 2, "one entry per post shown: {views:?}");
    assert!(views.iter().all(|v| v.login == "coord1" && v.ip.is_some()));
    // The page shows authors to the coordinator only, too.
    for (login, shown) in [
        ("coord1", true),
        ("head1", false),
        ("zhkh1", false),
        ("admin1", false),
    ] {
        let session = desk.sign_in(login, PASSWORD).await.unwrap();
        let html = client()
            .get(format!("{}/search?q=воды", desk.base))
            .header("cookie", &session.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(html.contains("Анна Петрова"), shown, "{login}");
    }
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_under_every_role_sign_in_and_out_with_csrf() {
    let desk = desk::start().await;
    // Not signed in: to the sign-in page, with the way back.
    for path in ["/", "/search?q=вода", "/sources"] {
        let r = client()
            .get(format!("{}{path}", desk.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login?next=")
        );
    }
    let r = client()
        .get(format!("{}/login", desk.base))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(r.text().await.unwrap().contains("Имя пользователя"));

    for role in Role::ALL {
        let session = desk.sign_in(login_of(role), PASSWORD).await.unwrap();
        let page = |path: &'static str| {
            let cookie = session.cookie.clone();
            let base = desk.base.clone();
            async move {
                client()
                    .get(format!("{base}{path}"))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let search = page("/search").await;
        assert_eq!(search.status(), 200, "{role:?}");
        let html = search.text().await.unwrap();
        assert!(html.contains("Поиск по сообщениям"));
        // The menu lists only what the role may open.
        assert_eq!(
            html.contains("href=\"/sources\""),
            role != Role::Official,
            "{role:?}"
        );
        let sources = page("/sources").await;
        let want = if role == Role::Official { 403 } else { 200 };
        assert_eq!(sources.status(), want, "{role:?}");

        // Sign-out needs the session's CSRF token.
        let csrf = csrf_field(&html).unwrap();
        let r = client()
            .post(format!("{}/logout", desk.base))
            .header("cookie", &session.cookie)
            .form_body(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = client()
            .post(format!("{}/logout", desk.base))
            .header("cookie", &session.cookie)
            .form_body(&[])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "no token at all");
        assert_eq!(page("/search").await.status(), 200, "still signed in");
        let r = client()
            .post(format!("{}/logout", desk.base))
            .header("cookie", &session.cookie)
            .form_body(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(page("/search").await.status(), 303, "signed out");
    }

    // The sign-in form without its double-submit cookie, or with another token.
    let r = client()
        .post(format!("{}/login", desk.base))
        .form_body(&[("csrf", "x"), ("login", "coord1"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(format!("{}/login", desk.base))
        .header("cookie", "otklik_login=a")
        .form_body(&[("csrf", "b"), ("login", "coord1"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Behind nginx with TLS the session cookie is Secure.
    let c = client();
    let form = c.get(format!("{}/login", desk.base)).send().await.unwrap();
    let login_cookie = desk::set_cookie(&form, "otklik_login").unwrap();
    let csrf = csrf_field(&form.text().await.unwrap()).unwrap();
    let r = c
        .post(format!("{}/login", desk.base))
        .header("cookie", format!("otklik_login={login_cookie}"))
        .header("x-forwarded-proto", "https")
        .form_body(&[
            ("csrf", csrf.as_str()),
            ("login", "coord1"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("otklik_session="))
        .unwrap();
    assert!(session_cookie.contains("; Secure"), "{session_cookie}");
    // No open redirect after sign-in.
    let c = client();
    let form = c.get(format!("{}/login", desk.base)).send().await.unwrap();
    let login_cookie = desk::set_cookie(&form, "otklik_login").unwrap();
    let csrf = csrf_field(&form.text().await.unwrap()).unwrap();
    let r = c
        .post(format!("{}/login", desk.base))
        .header("cookie", format!("otklik_login={login_cookie}"))
        .form_body(&[
            ("csrf", csrf.as_str()),
            ("login", "coord1"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    // Nor a header split by a line break in `next`.
    let form = c.get(format!("{}/login", desk.base)).send().await.unwrap();
    let login_cookie = desk::set_cookie(&form, "otklik_login").unwrap();
    let csrf = csrf_field(&form.text().await.unwrap()).unwrap();
    let r = c
        .post(format!("{}/login", desk.base))
        .header("cookie", format!("otklik_login={login_cookie}"))
        .form_body(&[
            ("csrf", csrf.as_str()),
            ("login", "coord1"),
            ("password", PASSWORD),
            ("next", "/search\r\nSet-Cookie: x=1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_failures_are_limited_logged_and_disabled_accounts_refused() {
    let desk = desk::start().await;
    for _ in 0..5 {
        let r = desk.sign_in("head1", "wrong password").await.unwrap_err();
        assert_eq!(r.status(), 401);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Неверное имя пользователя или пароль")
        );
    }
    // Now even the right password waits.
    let r = desk.sign_in("head1", PASSWORD).await.unwrap_err();
    assert_eq!(r.status(), 429);
    // Other logins are not affected.
    assert!(desk.sign_in("coord1", PASSWORD).await.is_ok());
    // Unknown logins fail like wrong passwords.
    assert_eq!(
        desk.sign_in("nobody", PASSWORD).await.unwrap_err().status(),
        401
    );
    let log = desk.running.store.access_log().unwrap();
    let count = |f: fn(&AccessKind) -> bool| log.iter().filter(|e| f(&e.kind)).count();
    assert_eq!(count(|k| matches!(k, AccessKind::SignInFailed)), 6);
    assert_eq!(count(|k| matches!(k, AccessKind::SignInLimited)), 1);
    assert_eq!(count(|k| matches!(k, AccessKind::SignedIn)), 1);

    // Disabling ends the session and the token at once.
    let session = desk.sign_in("zhkh1", PASSWORD).await.unwrap();
    let store = desk.running.store.clone();
    tokio::task::spawn_blocking(move || otklik::web::accounts::disable(&store, "zhkh1").unwrap())
        .await
        .unwrap();
    let r = client()
        .get(format!("{}/search", desk.base))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = get(&desk, "/api/v1/search", Caller::Token(Role::Official)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        desk.sign_in("zhkh1", PASSWORD).await.unwrap_err().status(),
        401
    );
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_malformed_bodies() {
    let desk = desk::start().await;
    let huge = "x".repeat(MAX_BODY + 1);
    let r = client()
        .post(format!("{}/login", desk.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", "otklik_login=a")
        .body(format!("csrf=a&login=coord1&password={huge}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client()
        .post(format!("{}/api/v1/ingest", desk.base))
        .bearer_auth(desk::COLLECTOR_TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"id\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");
    let r = client()
        .post(format!("{}/api/v1/ingest", desk.base))
        .bearer_auth(desk::COLLECTOR_TOKEN)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("EOF"), "{body}");
    let r = client()
        .post(format!("{}/api/v1/ingest", desk.base))
        .bearer_auth(desk::COLLECTOR_TOKEN)
        .json(&serde_json::json!({"id": "1", "text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("published"));
    // A form that is not a form.
    let session = desk.sign_in("coord1", PASSWORD).await.unwrap();
    let r = client()
        .post(format!("{}/logout", desk.base))
        .header("cookie", &session.cookie)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 415, "{}", r.status());
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_of_the_openapi_document_answers() {
    let desk = desk::start().await;
    let doc: serde_json::Value = get(&desk, "/api/v1/openapi.json", Caller::Anonymous)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 6);
    for (path, operations) in paths {
        let url = format!(
            "{}{}",
            desk.base,
            path.replace("{id}", "1").replace("{kind}", "heatmap")
        );
        for method in operations.as_object().unwrap().keys() {
            let request = match (method.as_str(), path.as_str()) {
                ("get", _) => client()
                    .get(&url)
                    .bearer_auth(&desk.tokens[&Role::Coordinator]),
                ("post", "/api/v1/ingest") => client()
                    .post(&url)
                    .bearer_auth(desk::COLLECTOR_TOKEN)
                    .json(&serde_json::json!({"id": "oa", "text": "проверка", "published": "2026-11-26T09:15:00Z"})),
                ("post", _) => client()
                    .post(&url)
                    .bearer_auth(&desk.tokens[&Role::Coordinator])
                    .json(&serde_json::json!({"action": "comment", "comment": "проверка API"})),
                (other, _) => panic!("{path}: method {other} not exercised by this test"),
            };
            let r = request.send().await.unwrap();
            assert_eq!(
                r.status(),
                200,
                "{method} {path}: {}",
                r.text().await.unwrap()
            );
        }
    }
    stop(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pages_under_every_role() {
    let desk = desk::start().await;
    let incidents: Vec<otklik::store::Incident> = desk
        .running
        .store
        .incidents()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(incidents.len() >= 2, "{incidents:?}");
    let zhkh = Some(otklik::org::Owner::Department("zhkh".into()));
    let own = incidents
        .iter()
        .find(|i| i.owner == zhkh)
        .expect("an incident of ЖКХ");
    let other = incidents
        .iter()
        .find(|i| i.owner != zhkh)
        .expect("an incident of another owner");
    let fetch = |cookie: String, path: String| {
        let base = desk.base.clone();
        async move {
            let r = client()
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };

    // The official sees their department's incidents only, in the list and by address.
    let official = desk.sign_in("zhkh1", PASSWORD).await.unwrap();
    let (status, html) = fetch(official.cookie.clone(), "/incidents".into()).await;
    assert_eq!(status, 200);
    for i in &incidents {
        let link = format!("href=\"/incidents/{}\"", i.id);
        assert_eq!(
            html.contains(&link),
            i.owner == zhkh,
            "incident {} ({:?})",
            i.id,
            i.owner
        );
    }
    let (status, _) = fetch(official.cookie.clone(), format!("/incidents/{}", own.id)).await;
    assert_eq!(status, 200);
    let (status, _) = fetch(official.cookie.clone(), format!("/incidents/{}", other.id)).await;
    assert_eq!(
        status, 404,
        "another owner's incident is not shown to an official"
    );
    // An official asking for another owner's queue still gets their own.
    let (_, html) = fetch(official.cookie.clone(), "/incidents?owner=shopsha".into()).await;
    assert!(!html.contains(&format!("href=\"/incidents/{}\"", other.id)));

    // A report's link: the period and the resonance flag are said and kept in the form; a
    // bound that is no instant is refused with its name.
    let head = desk.sign_in("head1", PASSWORD).await.unwrap();
    let (status, html) = fetch(
        head.cookie.clone(),
        "/incidents?from=2020-01-01T00%3A00%3A00Z&to=2100-01-01T00%3A00%3A00Z".into(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Отбор из отчёта: открытые с"), "{html}");
    assert!(
        html.contains("name=\"from\" value=\"2020-01-01T00:00:00Z\""),
        "{html}"
    );
    for i in &incidents {
        assert!(html.contains(&format!("href=\"/incidents/{}\"", i.id)));
    }
    let (_, html) = fetch(
        head.cookie.clone(),
        "/incidents?from=2020-01-01T00%3A00%3A00Z&resonant=true".into(),
    )
    .await;
    assert!(html.contains("только резонансные"), "{html}");
    for i in incidents.iter().filter(|i| !i.resonant) {
        assert!(!html.contains(&format!("href=\"/incidents/{}\"", i.id)));
    }
    let (status, html) = fetch(head.cookie.clone(), "/incidents?from=вчера".into()).await;
    assert_eq!(status, 400);
    assert!(html.contains("Неверный отбор: from"), "{html}");

    // The head reads but cannot act.
    let (status, html) = fetch(head.cookie.clone(), format!("/incidents/{}", own.id)).await;
    assert_eq!(status, 200);
    assert!(!html.contains("Анна Петрова"), "no authors for the head");
    let csrf = csrf_field(&html).unwrap();
    let r = client()
        .post(format!("{}/incidents/{}/actions", desk.base, own.id))
        .header("cookie", &head.cookie)
        .form_body(&[
            ("csrf", csrf.as_str()),
            ("action", "comment"),
            ("comment", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The coordinator acts; the timeline names them; a forged form is refused first.
    let coordinator = desk.sign_in("coord1", PASSWORD).await.unwrap();
    let (status, html) = fetch(coordinator.cookie.clone(), format!("/incidents/{}", own.id)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<summary>Почему отнесено (по действующим словарям)</summary><ul><li>"),
        "{html}"
    );
    let csrf = csrf_field(&html).unwrap();
    let r = client()
        .post(format!("{}/incidents/{}/actions", desk.base, own.id))
        .header("cookie", &coordinator.cookie)
        .form_body(&[("csrf", "forged"), ("action", "comment"), ("comment", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(format!("{}/incidents/{}/actions", desk.base, own.id))
        .header("cookie", &coordinator.cookie)
        .form_body(&[
            ("csrf", csrf.as_str()),
            ("action", "comment"),
            ("comment", "Позвонили в водоканал"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let events = desk.running.store.events(own.id).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.actor, "coord1");
    assert_eq!(last.comment.as_deref(), Some("Позвонили в водоканал"));
    let (_, html) = fetch(coordinator.cookie.clone(), format!("/incidents/{}", own.id)).await;
    assert!(html.contains("Позвонили в водоканал"));
    // An unknown action is named, not a 500.
    let r = client()
        .post(format!("{}/incidents/{}/actions", desk.base, own.id))
        .header("cookie", &coordinator.cookie)
        .form_body(&[("csrf", csrf.as_str()), ("action", "explode")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("неизвестное действие"));
    // The same rules through the JSON API with users' tokens.
    let api = |role: Role, path: String| {
        let base = desk.base.clone();
        let token = desk.tokens[&role].clone();
        async move {
            client()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let listed: serde_json::Value = api(Role::Official, "/api/v1/incidents?owner=shopsha".into())
        .await
        .json()
        .await
        .unwrap();
    for i in listed["incidents"].as_array().unwrap() {
        assert_eq!(i["owner"]["id"], "zhkh", "an official lists their own: {i}");
    }
    let other_id = other.id;
    assert_eq!(
        api(Role::Official, format!("/api/v1/incidents/{other_id}"))
            .await
            .status(),
        404
    );
    let detail: serde_json::Value = api(Role::Official, format!("/api/v1/incidents/{}", own.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["posts"][0]["author"], "Анна Петрова",
        "an official sees authors of their own"
    );
    let reasons: Vec<&str> = detail["posts"][0]["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r.as_str()).collect())
        .unwrap_or_default();
    assert!(
        reasons.first().is_some_and(|r| r.contains("инцидент"))
            && reasons.iter().any(|r| r.starts_with("место")),
        "each post says why it was taken for a complaint: {detail}"
    );
    let detail: serde_json::Value = api(Role::Head, format!("/api/v1/incidents/{}", own.id))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        detail["posts"][0]["author"].is_null(),
        "a head does not: {detail}"
    );
    let r = client()
        .post(format!("{}/api/v1/incidents/{}/actions", desk.base, own.id))
        .bearer_auth(&desk.tokens[&Role::Head])
        .json(&serde_json::json!({"action": "comment", "comment": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(format!("{}/api/v1/incidents/{other_id}/actions", desk.base))
        .bearer_auth(&desk.tokens[&Role::Official])
        .json(&serde_json::json!({"action": "comment", "comment": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "an official cannot act on another owner's incident"
    );
    let r = client()
        .post(format!("{}/api/v1/incidents/{}/actions", desk.base, own.id))
        .bearer_auth(&desk.tokens[&Role::Official])
        .json(&serde_json::json!({"action": "comment", "comment": "Выехала бригада"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let last = desk.running.store.events(own.id).unwrap().pop().unwrap();
    assert_eq!(last.actor, "zhkh1");

    let (status, _) = fetch(coordinator.cookie.clone(), "/incidents/999999".into()).await;
    assert_eq!(status, 404);
    let (status, _) = fetch(coordinator.cookie.clone(), "/incidents/abc".into()).await;
    assert_eq!(status, 404);
    stop(desk).await;
}
