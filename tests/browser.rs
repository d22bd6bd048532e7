//! The desk in a real browser (headless Chromium through chromedriver): sign in, search,
//! narrow by a facet, read highlighted snippets, look at it on a phone-sized screen, open the
//! queue and an incident and act on it through its form, sign out. Screenshots go to `target/test-artifacts/`.

mod common;

use common::desk::{self, PASSWORD};
use common::webdriver::Browser;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_search_narrow_and_sign_out_in_chromium() {
    let desk = desk::start().await;
    let browser = Browser::start().await;

    // A visitor is sent to the sign-in form, and back to the page asked for afterwards.
    browser.goto(&format!("{}/search?q=воды", desk.base)).await;
    browser
        .wait_for_url("the sign-in page", |u| u.contains("/login?next="))
        .await;
    browser.type_into("#login", "coord1").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("button[type=submit]").await;
    let error = browser.find(".notice.error").await;
    assert!(
        browser
            .text_of(&error)
            .await
            .contains("Неверное имя пользователя")
    );
    browser.screenshot("browser-01-sign-in-refused").await;

    browser.type_into("#login", "coord1").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_url("the search page after sign-in", |u| u.contains("/search"))
        .await;

    // Results with highlighted matches, facets with counts, the day histogram.
    let summary = browser.find(".summary").await;
    assert_eq!(browser.text_of(&summary).await, "Найдено сообщений: 2");
    let highlighted = browser.texts(".hit .snippet b").await;
    assert!(
        !highlighted.is_empty() && highlighted.iter().all(|t| t.to_lowercase() == "воды"),
        "{highlighted:?}"
    );
    let facets = browser.texts(".facets li").await;
    assert!(
        facets
            .iter()
            .any(|f| f.contains("Шопшинское") && f.ends_with('1')),
        "{facets:?}"
    );
    browser.find(".histogram span").await;
    // The coordinator sees authors.
    assert!(browser.source().await.contains("Анна Петрова"));
    browser.screenshot("browser-02-search").await;

    // Narrow by territory through the facet.
    let shopsha = browser.texts(".facets a").await;
    assert!(shopsha.iter().any(|t| t.contains("Шопшинское")));
    browser.click(".facets a[href*='territory=shopsha']").await;
    browser
        .wait_for_url("the narrowed search", |u| u.contains("territory=shopsha"))
        .await;
    let summary = browser.find(".summary").await;
    assert_eq!(browser.text_of(&summary).await, "Найдено сообщений: 1");

    // A new query through the form.
    browser.type_into("#q", "яма").await;
    browser.click(".search-form button[type=submit]").await;
    browser
        .wait_for_url("the new query", |u| u.contains("q=%D1%8F%D0%BC%D0%B0"))
        .await;
    // The territory filter stays selected in the form, so the pothole in Velikoe is not found
    // until it is cleared.
    let summary = browser.find(".summary").await;
    assert_eq!(browser.text_of(&summary).await, "Найдено сообщений: 0");
    browser.goto(&format!("{}/search?q=яма", desk.base)).await;
    let summary = browser.find(".summary").await;
    assert_eq!(browser.text_of(&summary).await, "Найдено сообщений: 1");

    // A phone-sized screen: everything still there, facets below the results.
    browser.resize(390, 844).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    browser.screenshot("browser-03-search-phone").await;

    // The queue, an incident, an action through its form.
    browser.resize(1280, 900).await;
    browser.click("header nav a[href='/incidents']").await;
    browser
        .wait_for_url("the queue", |u| u.ends_with("/incidents"))
        .await;
    browser.screenshot("browser-04-queue").await;
    browser.click(".incident a[href^='/incidents/']").await;
    let incident_url = browser
        .wait_for_url("an incident's page", |u| u.contains("/incidents/"))
        .await;
    browser
        .type_into(
            "form[data-action='comment'] textarea[name='comment']",
            "Уточняем у водоканала",
        )
        .await;
    browser
        .click("form[data-action='comment'] button[type=submit]")
        .await;
    browser.wait_for_text("Уточняем у водоканала").await;
    assert_eq!(browser.url().await, incident_url);
    browser.screenshot("browser-05-incident").await;

    // Its lifecycle through the forms: routed (if still in moderation), accepted for work,
    // answered on the merits, closed as solved, reopened — each in the timeline.
    if !browser.source().await.contains("data-action=\"accept\"") {
        browser
            .click("form[data-action='route'] button[type=submit]")
            .await;
        browser.wait_for_text("направлен исполнителю").await;
    }
    browser
        .type_into(
            "form[data-action='accept'] textarea[name='text']",
            "Принято в работу, бригада выехала",
        )
        .await;
    browser
        .click("form[data-action='accept'] button[type=submit]")
        .await;
    browser
        .wait_for_text("принят в работу (первый ответ): Принято в работу, бригада выехала")
        .await;
    browser
        .type_into(
            "form[data-action='answer'] textarea[name='text']",
            "Водоснабжение восстановлено",
        )
        .await;
    browser
        .click("form[data-action='answer'] button[type=submit]")
        .await;
    browser
        .wait_for_text("дан ответ по существу: Водоснабжение восстановлено")
        .await;
    browser
        .click("form[data-action='close'] button[type=submit]")
        .await;
    browser.wait_for_text("закрыт: решено").await;
    browser.screenshot("browser-05b-incident-closed").await;
    browser
        .click("form[data-action='reopen'] button[type=submit]")
        .await;
    browser.wait_for_text("открыт заново").await;
    assert_eq!(browser.url().await, incident_url);

    // Sources health, then sign out.
    browser.click("header nav a[href='/sources']").await;
    browser
        .wait_for_url("the sources page", |u| u.ends_with("/sources"))
        .await;
    browser.screenshot("browser-06-sources").await;
    browser.click(".who button").await;
    browser
        .wait_for_url("the sign-in page after sign-out", |u| u.ends_with("/login"))
        .await;
    browser.goto(&format!("{}/search", desk.base)).await;
    browser
        .wait_for_url("the sign-in page", |u| u.contains("/login?next="))
        .await;

    browser.quit().await;
    desk.running.shutdown(Duration::from_secs(5)).await.unwrap();
}
