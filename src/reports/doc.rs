//! A small document model (headings, paragraphs, lists, tables, links) that every report
//! page is written in once, and its HTML and Markdown renderings; DOCX is in
//! [`super::ooxml`].

use crate::text::html_escape;

/// A piece of running text.
#[derive(Clone, Debug, PartialEq)]
pub enum Inline {
    Text(String),
    Bold(String),
    Link { text: String, url: String },
}

pub fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

pub fn bold(s: impl Into<String>) -> Inline {
    Inline::Bold(s.into())
}

pub fn link(text: impl Into<String>, url: impl Into<String>) -> Inline {
    Inline::Link {
        text: text.into(),
        url: url.into(),
    }
}

/// One cell of a table.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Cell {
    pub content: Vec<Inline>,
    /// Background colour, `RRGGBB`.
    pub fill: Option<String>,
    /// Numbers are right-aligned.
    pub numeric: bool,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            content: vec![text(s)],
            ..Cell::default()
        }
    }

    pub fn number(s: impl Into<String>) -> Cell {
        Cell {
            content: vec![text(s)],
            numeric: true,
            ..Cell::default()
        }
    }

    pub fn link(s: impl Into<String>, url: impl Into<String>) -> Cell {
        Cell {
            content: vec![link(s, url)],
            numeric: true,
            ..Cell::default()
        }
    }

    pub fn inlines(content: Vec<Inline>) -> Cell {
        Cell {
            content,
            ..Cell::default()
        }
    }

    pub fn with_fill(mut self, fill: Option<String>) -> Cell {
        self.fill = fill;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Level 1 is the title.
    Heading(u8, String),
    Para(Vec<Inline>),
    List(Vec<Vec<Inline>>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
}

/// A report page.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(title: impl Into<String>) -> Document {
        let title = title.into();
        Document {
            blocks: vec![Block::Heading(1, title.clone())],
            title,
        }
    }

    pub fn heading(&mut self, level: u8, s: impl Into<String>) {
        self.blocks.push(Block::Heading(level, s.into()));
    }

    pub fn para(&mut self, inlines: Vec<Inline>) {
        self.blocks.push(Block::Para(inlines));
    }

    pub fn text(&mut self, s: impl Into<String>) {
        self.para(vec![text(s)]);
    }

    pub fn list(&mut self, items: Vec<Vec<Inline>>) {
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
    }

    pub fn table(&mut self, header: Vec<&str>, rows: Vec<Vec<Cell>>) {
        self.blocks.push(Block::Table {
            header: header.into_iter().map(String::from).collect(),
            rows,
        });
    }
}

const CSS: &str = "body{font-family:'PT Sans','Liberation Sans',Arial,sans-serif;font-size:15px;\
color:#222;max-width:1200px;margin:24px auto;padding:0 16px;line-height:1.4}\
h1{font-size:24px}h2{font-size:19px;margin-top:28px;border-bottom:1px solid #ccc}h3{font-size:16px}\
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #bbb;padding:4px 8px;\
vertical-align:top}th{background:#eef1f5;text-align:left}td.n{text-align:right;white-space:nowrap}\
a{color:#1a4f9c;text-decoration:none}a:hover{text-decoration:underline}\
.legend span{display:inline-block;padding:2px 10px;border:1px solid #bbb;margin-right:4px}\
@media print{body{margin:0;max-width:none;font-size:12px}a{color:#000}\
table{page-break-inside:auto}tr{page-break-inside:avoid}}";

fn inlines_html(inlines: &[Inline], out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(s) => out.push_str(&html_escape(s)),
            Inline::Bold(s) => {
                out.push_str("<b>");
                out.push_str(&html_escape(s));
                out.push_str("</b>");
            }
            Inline::Link { text, url } => {
                out.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    html_escape(url),
                    html_escape(text)
                ));
            }
        }
    }
}

/// A complete, printable HTML page.
pub fn to_html(doc: &Document) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", html_escape(&doc.title)));
    out.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n"));
    for block in &doc.blocks {
        match block {
            Block::Heading(level, s) => {
                let level = (*level).clamp(1, 4);
                out.push_str(&format!("<h{level}>{}</h{level}>\n", html_escape(s)));
            }
            Block::Para(inlines) => {
                out.push_str("<p>");
                inlines_html(inlines, &mut out);
                out.push_str("</p>\n");
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str("<li>");
                    inlines_html(item, &mut out);
                    out.push_str("</li>\n");
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in header {
                    out.push_str(&format!("<th>{}</th>", html_escape(h)));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        out.push_str("<td");
                        if cell.numeric {
                            out.push_str(" class=\"n\"");
                        }
                        if let Some(fill) = &cell.fill {
                            out.push_str(&format!(" style=\"background:#{}\"", html_escape(fill)));
                        }
                        out.push('>');
                        inlines_html(&cell.content, &mut out);
                        out.push_str("</td>");
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' | '*' | '_' | '[' | ']' | '`' | '\\' | '<' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

fn inlines_md(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(s) => md_escape(s),
            Inline::Bold(s) => format!("**{}**", md_escape(s)),
            Inline::Link { text, url } => format!(
                "[{}]({})",
                md_escape(text),
                url.replace(' ', "%20").replace(')', "%29")
            ),
        })
        .collect()
}

/// Markdown (GitHub tables).
pub fn to_markdown(doc: &Document) -> String {
    let mut out = String::new();
    for block in &doc.blocks {
        match block {
            Block::Heading(level, s) => {
                out.push_str(&"#".repeat(usize::from((*level).clamp(1, 6))));
                out.push(' ');
                out.push_str(&md_escape(s));
                out.push_str("\n\n");
            }
            Block::Para(inlines) => {
                out.push_str(&inlines_md(inlines));
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    out.push_str(&inlines_md(item));
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                out.push('|');
                for h in header {
                    out.push_str(&format!(" {} |", md_escape(h)));
                }
                out.push_str("\n|");
                for _ in header {
                    out.push_str("---|");
                }
                out.push('\n');
                for row in rows {
                    out.push('|');
                    for cell in row {
                        out.push_str(&format!(" {} |", inlines_md(&cell.content)));
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
    out
}

/// One CSV field, quoted when it needs to be (RFC 4180). Text that a spreadsheet would take
/// for a formula (a resident's post beginning with `=`, `+`, `@` or `-` not followed by a
/// digit) gets a leading apostrophe, so opening the file runs nothing.
pub fn csv_field(s: &str) -> String {
    let mut chars = s.chars();
    let formula = match chars.next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// CSV lines (CRLF, RFC 4180) with a UTF-8 byte order mark, which spreadsheet programs
/// need to read Cyrillic.
pub fn to_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::from("\u{feff}");
    let line = |fields: Vec<String>| {
        fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",")
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&line(row));
        out.push_str("\r\n");
    }
    out
}
