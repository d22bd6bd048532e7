//! Small text helpers shared by the parts that write HTML or XML.

/// Escape `text` for HTML and XML text and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_characters_are_escaped_and_cyrillic_kept() {
        assert_eq!(
            super::html_escape("<b>«Яма» & \"лужа\"</b>"),
            "&lt;b&gt;«Яма» &amp; &quot;лужа&quot;&lt;/b&gt;"
        );
    }
}
