//! The reports in the browser: who may open them, the page of links, a report as a page and
//! as a file, and a wrong request answered with the reason.

mod common;

use common::desk::{self, PASSWORD, login_of};
use otklik::store::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_served_to_the_roles_that_read_them() {
    let desk = desk::start().await;
    let c = desk::client();
    let get = |cookie: String, path: &str| {
        c.get(format!("{}{path}", desk.base))
            .header("cookie", cookie)
            .send()
    };

    let coordinator = desk
        .sign_in(login_of(Role::Coordinator), PASSWORD)
        .await
        .unwrap_or_else(|_| panic!("sign-in"));
    let r = get(coordinator.cookie.clone(), "/reports").await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Еженедельная аналитическая записка"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/reports/export?format=xlsx\""),
        "{page}"
    );
    assert!(
        page.contains(">Отчёты</a>"),
        "the menu lists the reports: {page}"
    );

    let r = get(
        coordinator.cookie.clone(),
        "/reports/heatmap?from=2026-11-01&to=2026-11-30&format=html",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("ЖКХ"), "the heat map names the topic groups");

    let r = get(coordinator.cookie.clone(), "/reports/export?format=xlsx")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("otklik-export.xlsx"), "{disposition}");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a ZIP package");

    let r = get(coordinator.cookie.clone(), "/reports/weekly?week=2026-W99")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Неверный период"));
    let r = get(coordinator.cookie.clone(), "/reports/export?format=docx")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = get(coordinator.cookie.clone(), "/reports/gossip")
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let head = desk
        .sign_in(login_of(Role::Head), PASSWORD)
        .await
        .unwrap_or_else(|_| panic!("sign-in"));
    let r = get(head.cookie, "/reports/ratings?format=html")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let official = desk
        .sign_in(login_of(Role::Official), PASSWORD)
        .await
        .unwrap_or_else(|_| panic!("sign-in"));
    let r = get(official.cookie.clone(), "/reports").await.unwrap();
    assert_eq!(r.status(), 403);
    let r = get(official.cookie, "/reports/weekly").await.unwrap();
    assert_eq!(r.status(), 403);

    let r = c
        .get(format!("{}/reports", desk.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "without a session: to the sign-in page");
}
