//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.1, written by hand. A test
//! (`tests/web_api.rs`) calls every path listed here, so the document cannot drift from the
//! routes unnoticed.

use axum::Json;
use serde_json::{Value, json};

pub(crate) async fn document() -> Json<Value> {
    Json(openapi())
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// The document.
pub fn openapi() -> Value {
    let refused = json!({
        "401": error_response("No or unknown credentials."),
        "403": error_response("The caller's role may not use this endpoint."),
    });
    let mut search_responses = json!({
        "200": {
            "description": "A page of hits, with facets and a histogram by day.",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SearchResults" } } }
        },
        "400": error_response("A parameter does not fit, or the query is not valid syntax; `detail` names which and why."),
        "503": error_response("No search index yet."),
    });
    merge(&mut search_responses, &refused);
    let mut sources_responses = json!({
        "200": {
            "description": "Every source's health.",
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": { "sources": { "type": "array", "items": { "$ref": "#/components/schemas/SourceHealth" } } }
            } } }
        }
    });
    merge(&mut sources_responses, &refused);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "otklik API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Search over residents' posts, sources' health and the push endpoint for collectors. Every endpoint but /healthz, /metrics and this document needs `Authorization: Bearer <token>` (`otklik user token LOGIN`) or a signed-in browser session. Errors are `{\"error\": kind, \"detail\": what is wrong}`."
        },
        "servers": [ { "url": "/" } ],
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A user's API token (`otklik user token LOGIN`)." },
                "session": { "type": "apiKey", "in": "cookie", "name": "otklik_session" },
                "collector": { "type": "http", "scheme": "bearer", "description": "A collector's token from `[[api.ingest]]` (`otklik token new NAME`)." }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": { "type": "string", "description": "The kind, from the HTTP status: bad_request, unauthorized, forbidden, payload_too_large …" },
                        "detail": { "type": "string", "description": "What is wrong, in English." }
                    }
                },
                "Hit": {
                    "type": "object",
                    "properties": {
                        "platform": { "type": "string" }, "id": { "type": "string" }, "uid": { "type": "string" },
                        "url": { "type": ["string", "null"] }, "community": { "type": "string" },
                        "published": { "type": "string", "format": "date-time" },
                        "title": { "type": ["string", "null"] }, "text": { "type": "string" },
                        "snippet": { "type": "string", "description": "HTML: the text escaped, matches in <b>." },
                        "incident": { "type": ["integer", "null"] }, "is_incident": { "type": "boolean" },
                        "group": { "type": ["string", "null"] }, "topic": { "type": ["string", "null"] },
                        "territory": { "type": ["string", "null"] }, "place": { "type": ["string", "null"] },
                        "score": { "type": "number" },
                        "author": { "type": "string", "description": "Only for roles that may see personal data (coordinator); each view is logged." },
                        "author_url": { "type": "string", "description": "As `author`." }
                    }
                },
                "FacetCount": { "type": "object", "properties": { "value": { "type": "string" }, "count": { "type": "integer" } } },
                "SearchResults": {
                    "type": "object",
                    "properties": {
                        "total": { "type": "integer" }, "page": { "type": "integer" }, "per_page": { "type": "integer" },
                        "hits": { "type": "array", "items": { "$ref": "#/components/schemas/Hit" } },
                        "facets": {
                            "type": ["object", "null"],
                            "properties": {
                                "source": { "type": "array", "items": { "$ref": "#/components/schemas/FacetCount" } },
                                "platform": { "type": "array", "items": { "$ref": "#/components/schemas/FacetCount" } },
                                "territory": { "type": "array", "items": { "$ref": "#/components/schemas/FacetCount" } },
                                "group": { "type": "array", "items": { "$ref": "#/components/schemas/FacetCount" } },
                                "histogram": { "type": "array", "items": { "type": "object", "properties": {
                                    "day": { "type": "string", "format": "date" }, "count": { "type": "integer" } } } }
                            }
                        }
                    }
                },
                "SourceHealth": {
                    "type": "object",
                    "properties": {
                        "source": { "type": "string" }, "platform": { "type": "string" },
                        "state": { "type": "string", "enum": ["ok", "degraded", "failing", "disabled"] },
                        "last_success": { "type": ["string", "null"], "format": "date-time" },
                        "last_error": { "type": ["string", "null"] },
                        "last_error_at": { "type": ["string", "null"], "format": "date-time" },
                        "consecutive_failures": { "type": "integer" }, "posts_stored": { "type": "integer" },
                        "interval_secs": { "type": "integer" }
                    }
                }
            }
        },
        "paths": {
            "/healthz": { "get": {
                "summary": "Liveness", "security": [],
                "responses": { "200": { "description": "`ok`", "content": { "text/plain": {} } } }
            } },
            "/metrics": { "get": {
                "summary": "Prometheus metrics (keep it on loopback or behind the proxy's access rules)", "security": [],
                "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": {} } } }
            } },
            "/api/v1/openapi.json": { "get": {
                "summary": "This document", "security": [],
                "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } }
            } },
            "/api/v1/search": { "get": {
                "summary": "Search posts",
                "description": "Every role may search; authors are included only for the coordinator, and each view is logged.",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "parameters": [
                    query_param("q", "tantivy query syntax: words, \"phrases\", AND/OR/NOT, field:value. At most 1000 characters. Empty: every post.", json!({"type": "string"})),
                    query_param("source", "A platform (vk, ok, telegram, rss, ingest) or a configured source name.", json!({"type": "string"})),
                    query_param("territory", "Territory id (gavrilov-yam, shopsha …, district, outside).", json!({"type": "string"})),
                    query_param("group", "Topic group id.", json!({"type": "string"})),
                    query_param("since", "Published from: YYYY-MM-DD (Moscow day) or RFC 3339.", json!({"type": "string"})),
                    query_param("until", "Published up to: YYYY-MM-DD (that Moscow day included) or RFC 3339 (excluded).", json!({"type": "string"})),
                    query_param("incidents", "true: only posts judged to be incidents.", json!({"type": "boolean"})),
                    query_param("sort", "newest (default) or best.", json!({"type": "string", "enum": ["newest", "best"]})),
                    query_param("page", "From 1.", json!({"type": "integer", "minimum": 1})),
                    query_param("per_page", "1 to 100, default 20; at most 10000 hits can be paged through.", json!({"type": "integer", "minimum": 1, "maximum": 100}))
                ],
                "responses": search_responses
            } },
            "/api/v1/sources": { "get": {
                "summary": "Health of every source (administrator, coordinator, head)",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "responses": sources_responses
            } },
            "/api/v1/incidents": { "get": {
                "summary": "The incident queue (an official's: their department's or territory's only)",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "parameters": [
                    query_param("status", "Status ids, comma-separated (moderation, routed, in_work, answered, closed); empty: every open incident.", json!({"type": "string"})),
                    query_param("owner", "Department or territory id.", json!({"type": "string"})),
                    query_param("territory", "Territory id.", json!({"type": "string"})),
                    query_param("group", "Topic group id.", json!({"type": "string"})),
                    query_param("overdue", "Only incidents past their deadline.", json!({"type": "boolean"})),
                    query_param("urgent", "Only urgent or resonant ones.", json!({"type": "boolean"})),
                    query_param("resonant", "Only resonant ones.", json!({"type": "boolean"})),
                    query_param("from", "Only incidents opened at or after this instant (RFC 3339). With `from` or `to`, closed incidents are listed too, except those closed as not an incident or as a duplicate: what the reports count.", json!({"type": "string", "format": "date-time"})),
                    query_param("to", "Only incidents opened before this instant (RFC 3339).", json!({"type": "string", "format": "date-time"})),
                    query_param("sort", "deadline (default), newest, oldest.", json!({"type": "string"})),
                    query_param("limit", "At most 1000, default 100.", json!({"type": "integer"})),
                    query_param("offset", "Incidents to skip.", json!({"type": "integer"}))
                ],
                "responses": {
                    "200": { "description": "`{\"total\": n, \"incidents\": [...]}`", "content": { "application/json": {} } },
                    "400": error_response("A filter value does not fit."),
                    "401": error_response("No or unknown credentials.")
                }
            } },
            "/api/v1/incidents/{id}": { "get": {
                "summary": "An incident with its timeline and posts (authors only for roles that may see them; each view logged)",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "responses": {
                    "200": { "description": "`{\"incident\": …, \"events\": […], \"posts\": […]}`; each post has `reasons`: why the understanding step takes it for a complaint, in Russian, worked out again with the dictionaries loaded now.", "content": { "application/json": {} } },
                    "401": error_response("No or unknown credentials."),
                    "404": error_response("No such incident, or not one the caller may read.")
                }
            } },
            "/api/v1/incidents/{id}/actions": { "post": {
                "summary": "Act on an incident: route, accept, answer, wait, resume, close, reopen, merge, comment …",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["action"],
                    "description": "`{\"action\": \"route\", \"owner\": \"zhkh\", \"comment\": \"…\"}`; see src/incidents/queue.rs for every action's fields."
                } } } },
                "responses": {
                    "200": { "description": "The incident's new state", "content": { "application/json": {} } },
                    "400": error_response("Malformed body."),
                    "401": error_response("No or unknown credentials."),
                    "403": error_response("The role may read the incident but not change it (a head)."),
                    "404": error_response("No such incident, or not one the caller may read."),
                    "409": error_response("The action does not fit the incident's state; `detail` says why, in Russian.")
                }
            } },
            "/api/v1/reports/{kind}": { "get": {
                "summary": "A report: weekly (the analytical note), heatmap, ratings or export (administrator, coordinator, head)",
                "security": [ { "bearer": [] }, { "session": [] } ],
                "parameters": [
                    { "name": "kind", "in": "path", "required": true, "schema": { "type": "string", "enum": ["weekly", "heatmap", "ratings", "export"] } },
                    query_param("format", "html, md, docx, json (weekly); html, json, csv (heatmap); html, md, json, csv (ratings); csv, xlsx (export).", json!({"type": "string"})),
                    query_param("week", "An ISO week, e.g. 2026-W47 (instead of from/to).", json!({"type": "string"})),
                    query_param("from", "Start: a date (Moscow midnight) or RFC 3339.", json!({"type": "string"})),
                    query_param("to", "End: a date (inclusive) or RFC 3339.", json!({"type": "string"})),
                    query_param("by", "Ratings: owner (default) or territory.", json!({"type": "string"}))
                ],
                "responses": {
                    "200": { "description": "The report in the format asked for (a file for docx, xlsx, csv, md)", "content": { "text/html": {}, "application/json": {} } },
                    "400": error_response("A wrong period or format; `detail` says which."),
                    "401": error_response("No or unknown credentials."),
                    "403": error_response("The role does not read reports (an official)."),
                    "404": error_response("No such report.")
                }
            } },
            "/api/v1/ingest": { "post": {
                "summary": "Push posts from another collector",
                "security": [ { "collector": [] } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "description": "One post or an array of at most 1000; see src/api/ingest.rs for the fields.",
                    "oneOf": [ { "type": "object" }, { "type": "array", "items": { "type": "object" } } ]
                } } } },
                "responses": {
                    "200": { "description": "How many were new", "content": { "application/json": { "schema": {
                        "type": "object", "properties": {
                            "received": { "type": "integer" }, "stored": { "type": "integer" }, "duplicates": { "type": "integer" } } } } } },
                    "400": error_response("Malformed body; `detail` names the post and field."),
                    "401": error_response("No or unknown collector token."),
                    "413": error_response("Body larger than `api.max_body_bytes`, or more than 1000 posts.")
                }
            } }
        }
    })
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}
