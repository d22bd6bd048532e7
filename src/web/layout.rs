//! The page frame every page shares: head, navigation, a small inline stylesheet that works on
//! a phone, and helpers for escaped text and CSRF-protected forms. Pages are Rust functions
//! returning HTML strings; everything from outside goes through [`esc`].

use super::auth::{Principal, Viewer, sees_sources};
use axum::response::Html;

/// Escape text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    crate::text::html_escape(text).replace('\'', "&#39;")
}

/// One entry of the navigation: shown only to users who may open it.
struct NavItem {
    href: &'static str,
    label: &'static str,
    shown: fn(&Principal) -> bool,
}

/// The pages that exist, in menu order. A new page adds itself here.
const NAV: &[NavItem] = &[
    NavItem {
        href: "/incidents",
        label: "Очередь",
        shown: |_| true,
    },
    NavItem {
        href: "/search",
        label: "Поиск",
        shown: |_| true,
    },
    NavItem {
        href: "/reports",
        label: "Отчёты",
        shown: super::reports::sees_reports,
    },
    NavItem {
        href: "/sources",
        label: "Источники",
        shown: sees_sources,
    },
];

/// A whole page for a signed-in user. `active` is the `href` of the current menu entry.
pub fn page(viewer: &Viewer, title: &str, active: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    for item in NAV.iter().filter(|i| (i.shown)(&viewer.user)) {
        let current = if item.href == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!(
            "<a href=\"{}\"{current}>{}</a>",
            item.href, item.label
        ));
    }
    let user = &viewer.user;
    let header = format!(
        "<header><a class=\"brand\" href=\"/\">Отклик</a><nav>{nav}</nav>\
         <div class=\"who\"><span title=\"{role}\">{name}</span>{logout}</div></header>",
        role = esc(user.role.label_ru()),
        name = esc(&user.name),
        logout = post_form(
            "/logout",
            &viewer.csrf,
            "",
            "<button class=\"link\" type=\"submit\">Выйти</button>"
        ),
    );
    Html(frame(title, &header, body))
}

/// A page for someone not signed in (the sign-in form, errors before sign-in).
pub fn bare_page(title: &str, body: &str) -> Html<String> {
    Html(frame(
        title,
        "<header><span class=\"brand\">Отклик</span></header>",
        body,
    ))
}

fn frame(title: &str, header: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — Отклик</title><style>{CSS}</style></head>\
         <body>{header}<main><h1>{title}</h1>{body}</main></body></html>\n",
        title = esc(title),
    )
}

/// A POST form carrying the session's CSRF token. `fields` is extra HTML (already escaped)
/// placed before `button`.
pub fn post_form(action: &str, csrf: &str, fields: &str, button: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}{button}</form>",
        esc(action),
        esc(csrf)
    )
}

/// A notice above a page's content.
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        "<p class=\"notice {kind}\" role=\"alert\">{}</p>",
        esc(text)
    )
}

/// Moscow time as users read it.
pub fn moscow(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Moscow)
        .format("%d.%m.%Y %H:%M")
        .to_string()
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;background:#f5f6f8}\
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.6rem 1rem;background:#1f3a5f;color:#fff}\
header a{color:#fff;text-decoration:none}header nav{display:flex;gap:1rem;flex-wrap:wrap}\
header nav a[aria-current]{border-bottom:2px solid #fff}\
.brand{font-weight:700;font-size:1.1rem}.who{margin-left:auto;display:flex;gap:.75rem;align-items:center}\
.who form{display:inline}button.link{background:none;border:0;color:#fff;text-decoration:underline;cursor:pointer;font:inherit;padding:0}\
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.2rem 0 1rem}\
label{display:block;font-size:.9rem;color:#465063}\
input,select,button{font:inherit;padding:.45rem .6rem;border:1px solid #b8c0cc;border-radius:4px;max-width:100%}\
button{background:#1f3a5f;color:#fff;border-color:#1f3a5f;cursor:pointer}\
.notice{padding:.6rem .8rem;border-radius:4px;background:#e8f0fb}.notice.error{background:#fde8e8;color:#7a1c1c}\
.search-form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}\
.search-form .q{flex:1 1 18rem}.search-form .q input{width:100%}.search-form>div{min-width:0;max-width:100%}\
.search-form select{max-width:16rem}\
@media (max-width:760px){.search-form>div{flex:1 1 100%}.search-form select,.search-form input:not([type=checkbox]){width:100%;max-width:100%}}\
.layout{display:grid;grid-template-columns:16rem 1fr;gap:1.25rem}\
@media (max-width:760px){.layout{grid-template-columns:1fr}.facets{order:2}}\
.facets h2{font-size:1rem;margin:.8rem 0 .3rem}.facets ul{list-style:none;margin:0;padding:0}\
.facets li{display:flex;justify-content:space-between;gap:.5rem;padding:.1rem 0}\
.facets a{color:#1f3a5f;overflow-wrap:anywhere}.facets .on{font-weight:700}\
.hit{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:.7rem .9rem;margin-bottom:.7rem}\
.hit .meta{font-size:.85rem;color:#5a6578;display:flex;flex-wrap:wrap;gap:.3rem .8rem}\
.hit .snippet{margin:.35rem 0;overflow-wrap:anywhere}.hit b{background:#fff1a8;font-weight:600}\
.author{font-size:.85rem;color:#5a3a00}\
.histogram-title{font-size:.9rem;font-weight:400;color:#465063;margin:0}\
.histogram{display:flex;align-items:flex-end;gap:2px;height:4rem;margin:.3rem 0 .2rem;border-bottom:1px solid #b8c0cc;overflow-x:auto}\
.histogram span{flex:0 1 1.5rem;min-width:4px;background:#5b7db1}.histogram-range{display:flex;justify-content:space-between;font-size:.8rem;color:#5a6578;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e7ee;vertical-align:top}\
.table-wrap{overflow-x:auto}.state-ok{color:#16602b}.state-degraded{color:#8a5a00}.state-failing,.state-disabled{color:#a11d1d}\
.pages{display:flex;gap:1rem;margin:1rem 0}\
.login{max-width:22rem;background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:1rem}\
.login input{width:100%;margin-bottom:.7rem}\
";
