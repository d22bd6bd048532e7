//! VK's wire format (`reference/wire-formats.md` §1.2–1.5), only as far as the daemon reads
//! it. Every field but the ids is optional and unknown fields are ignored: real 5.199
//! replies carry fields the schema does not know (`reactions`, `reaction_sets` …), and old
//! or removed posts lack some that it does.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `{"response": …}` or `{"error": …}`, with `execute_errors` beside an execute response.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub execute_errors: Vec<ApiError>,
}

/// An error of the whole call, or of one call inside `execute` (which names its method).
#[derive(Clone, Debug, Deserialize)]
pub struct ApiError {
    pub error_code: i64,
    #[serde(default)]
    pub error_msg: String,
    #[serde(default)]
    pub method: Option<String>,
}

/// `wall.get` (and `wall.getComments`) with `extended=1`.
#[derive(Debug, Default, Deserialize)]
pub struct ItemsPage {
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub items: Vec<Value>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub groups: Vec<Group>,
    /// `newsfeed.search` only: where the next page starts; absent or empty on the last.
    #[serde(default, deserialize_with = "lenient_string")]
    pub next_from: Option<String>,
}

/// A post (`wall_wallpost_full`), also nested in `copy_history`.
#[derive(Clone, Debug, Deserialize)]
pub struct WallPost {
    pub id: i64,
    pub owner_id: i64,
    #[serde(default)]
    pub from_id: i64,
    #[serde(default)]
    pub signer_id: Option<i64>,
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_pinned: bool,
    #[serde(default)]
    pub copy_history: Vec<WallPost>,
    #[serde(default)]
    pub geo: Option<Geo>,
}

/// `geo` of a post: the coordinates are one string, "<latitude> <longitude>".
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Geo {
    #[serde(default, deserialize_with = "lenient_string")]
    pub coordinates: Option<String>,
}

impl Geo {
    /// Latitude and longitude, when the string holds two numbers.
    pub fn lat_lon(&self) -> Option<(f64, f64)> {
        let mut parts = self.coordinates.as_deref()?.split_whitespace();
        let lat = parts.next()?.parse().ok()?;
        let lon = parts.next()?.parse().ok()?;
        Some((lat, lon))
    }
}

/// A comment (`wall_wall_comment`), with its replies in `thread.items`.
#[derive(Clone, Debug, Deserialize)]
pub struct WallComment {
    pub id: i64,
    #[serde(default)]
    pub from_id: i64,
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    #[serde(default)]
    pub thread: Option<Thread>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Thread {
    #[serde(default)]
    pub items: Vec<Value>,
}

/// A user in `profiles`.
#[derive(Clone, Debug, Deserialize)]
pub struct Profile {
    pub id: i64,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub screen_name: Option<String>,
}

/// A community in `groups` or in `groups.getById`.
#[derive(Clone, Debug, Deserialize)]
pub struct Group {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub screen_name: Option<String>,
    /// 0 open, 1 closed, 2 private.
    #[serde(default, deserialize_with = "lenient_int")]
    pub is_closed: i64,
    /// `deleted` or `banned` when the community is gone.
    #[serde(default)]
    pub deactivated: Option<String>,
}

/// `groups.getById`: `{"groups": […], "profiles": […]}` since 5.194, a bare array before.
pub fn groups_of(response: &Value) -> Vec<Group> {
    let list = match response {
        Value::Array(_) => Some(response),
        Value::Object(map) => map.get("groups"),
        _ => None,
    };
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|g| serde_json::from_value(g.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// 0/1, true/false, or absent.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    })
}

/// An integer, a boolean, or anything else as 0.
fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => i64::from(b),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    })
}

/// A string or a number as a string; empty and null as `None`.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_a_post_parses_with_unknown_fields() {
        let post: WallPost = serde_json::from_str(
            r#"{"inner_type":"wall_wallpost","id":10231,"owner_id":-200000001,"from_id":521234567,
            "date":1718802000,"marked_as_ads":0,"post_type":"post","type":"post",
            "text":"Во дворе не вывозят мусор","signer_id":521234567,
            "geo":{"type":"point","coordinates":"55.751244 37.618423","showmap":1},
            "reactions":{"count":2,"items":[{"id":0,"count":2}]},"is_pinned":1}"#,
        )
        .unwrap();
        assert_eq!(post.id, 10231);
        assert!(post.is_pinned);
        assert_eq!(post.geo.unwrap().lat_lon(), Some((55.751244, 37.618423)));
    }

    #[test]
    fn groups_by_id_in_both_shapes() {
        let new: Value = serde_json::from_str(
            r#"{"groups":[{"id":1,"name":"VK API","is_closed":0}],"profiles":[]}"#,
        )
        .unwrap();
        let old: Value = serde_json::from_str(r#"[{"id":1,"name":"VK API"}]"#).unwrap();
        assert_eq!(groups_of(&new)[0].name, "VK API");
        assert_eq!(groups_of(&old)[0].id, 1);
    }

    #[test]
    fn next_from_empty_means_last_page() {
        let page: ItemsPage = serde_json::from_str(r#"{"items":[],"next_from":""}"#).unwrap();
        assert_eq!(page.next_from, None);
        let page: ItemsPage =
            serde_json::from_str(r#"{"items":[],"next_from":"1/-131011375_688"}"#).unwrap();
        assert_eq!(page.next_from.as_deref(), Some("1/-131011375_688"));
    }
}
