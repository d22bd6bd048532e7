//! Office Open XML written by hand: DOCX (what the administration edits and files) and
//! XLSX (the regional centre's export). A minimal valid package needs only a few parts,
//! so a ZIP writer and string building cost less than a document library's dependencies.
//! The output is deterministic (fixed timestamps), so the same note gives the same file.

use super::doc::{Block, Document, Inline};
use std::io::Write;

/// A ZIP archive being written in memory (deflate, UTF-8 names, no ZIP64: parts stay
/// far below 4 GiB).
struct Zip {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// 1980-01-01 00:00, the earliest DOS date: fixed so that output is reproducible.
const DOS_DATE: u16 = (1 << 5) | 1;

impl Zip {
    fn new() -> Zip {
        Zip {
            out: Vec::new(),
            central: Vec::new(),
            entries: 0,
        }
    }

    fn add(&mut self, name: &str, data: &[u8]) {
        let crc = crc32fast::hash(data);
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("writing to memory");
        let packed = enc.finish().expect("writing to memory");
        let offset = self.out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::with_capacity(64 + name.len());
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
            h.extend_from_slice(&8u16.to_le_bytes()); // deflate
            h.extend_from_slice(&0u16.to_le_bytes()); // time
            h.extend_from_slice(&DOS_DATE.to_le_bytes());
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        self.out.extend_from_slice(&header(0x0403_4b50, false));
        self.out.extend_from_slice(&packed);
        self.central.extend_from_slice(&header(0x0201_4b50, true));
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let offset = self.out.len() as u32;
        let size = self.central.len() as u32;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&size.to_le_bytes());
        self.out.extend_from_slice(&offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        self.out
    }
}

/// Text as XML character data: markup escaped, characters XML forbids dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

const DOCX_STYLES: &str = r#"<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:cs="Times New Roman" w:eastAsia="Times New Roman"/><w:sz w:val="24"/><w:szCs w:val="24"/><w:lang w:val="ru-RU"/></w:rPr></w:rPrDefault>
<w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="264" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="240"/><w:jc w:val="center"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="30"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120"/><w:outlineLvl w:val="1"/></w:pPr><w:rPr><w:b/><w:sz w:val="27"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading3"><w:name w:val="heading 3"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="180" w:after="80"/><w:outlineLvl w:val="2"/></w:pPr><w:rPr><w:b/><w:i/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="60"/><w:ind w:left="567" w:hanging="284"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="TableText"><w:name w:val="Table Text"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr><w:rPr><w:sz w:val="20"/><w:szCs w:val="20"/></w:rPr></w:style>
<w:style w:type="character" w:styleId="Hyperlink"><w:name w:val="Hyperlink"/><w:rPr><w:color w:val="1A4F9C"/><w:u w:val="single"/></w:rPr></w:style>
</w:styles>"#;

/// Builds `word/document.xml` and the hyperlinks' relationships.
struct DocxBody {
    xml: String,
    links: Vec<String>,
}

impl DocxBody {
    fn run(&mut self, s: &str, bold: bool) {
        self.xml.push_str("<w:r>");
        if bold {
            self.xml.push_str("<w:rPr><w:b/></w:rPr>");
        }
        self.xml.push_str(&format!(
            "<w:t xml:space=\"preserve\">{}</w:t></w:r>",
            xml_escape(s)
        ));
    }

    fn inlines(&mut self, inlines: &[Inline], bold_all: bool) {
        for i in inlines {
            match i {
                Inline::Text(s) => self.run(s, bold_all),
                Inline::Bold(s) => self.run(s, true),
                Inline::Link { text, url } => {
                    // Relationship 1 is the styles part.
                    let id = format!("rId{}", self.links.len() + 2);
                    self.links.push(url.clone());
                    self.xml.push_str(&format!(
                        "<w:hyperlink r:id=\"{id}\"><w:r><w:rPr><w:rStyle w:val=\"Hyperlink\"/>{}</w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r></w:hyperlink>",
                        if bold_all { "<w:b/>" } else { "" },
                        xml_escape(text)
                    ));
                }
            }
        }
    }

    fn para(&mut self, style: Option<&str>, inlines: &[Inline], extra_ppr: &str) {
        self.xml.push_str("<w:p><w:pPr>");
        if let Some(style) = style {
            self.xml.push_str(&format!("<w:pStyle w:val=\"{style}\"/>"));
        }
        self.xml.push_str(extra_ppr);
        self.xml.push_str("</w:pPr>");
        self.inlines(inlines, false);
        self.xml.push_str("</w:p>");
    }
}

/// A document as DOCX.
pub fn docx(doc: &Document) -> Vec<u8> {
    let mut b = DocxBody {
        xml: String::with_capacity(64 * 1024),
        links: Vec::new(),
    };
    for block in &doc.blocks {
        match block {
            Block::Heading(level, s) => {
                let style = format!("Heading{}", (*level).clamp(1, 3));
                b.para(Some(&style), &[Inline::Text(s.clone())], "");
            }
            Block::Para(inlines) => b.para(None, inlines, "<w:jc w:val=\"both\"/>"),
            Block::List(items) => {
                for item in items {
                    let mut with_bullet = vec![Inline::Text("•\t".into())];
                    with_bullet.extend(item.iter().cloned());
                    b.para(
                        Some("ListParagraph"),
                        &with_bullet,
                        "<w:tabs><w:tab w:val=\"left\" w:pos=\"567\"/></w:tabs>",
                    );
                }
            }
            Block::Table { header, rows } => {
                let cols = header.len().max(1);
                let width = 9355 / cols;
                b.xml.push_str(
                    "<w:tbl><w:tblPr><w:tblW w:w=\"5000\" w:type=\"pct\"/><w:tblBorders>",
                );
                for side in ["top", "left", "bottom", "right", "insideH", "insideV"] {
                    b.xml.push_str(&format!(
                        "<w:{side} w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"999999\"/>"
                    ));
                }
                b.xml.push_str("</w:tblBorders><w:tblCellMar><w:left w:w=\"70\" w:type=\"dxa\"/><w:right w:w=\"70\" w:type=\"dxa\"/></w:tblCellMar></w:tblPr><w:tblGrid>");
                for _ in 0..cols {
                    b.xml.push_str(&format!("<w:gridCol w:w=\"{width}\"/>"));
                }
                b.xml
                    .push_str("</w:tblGrid><w:tr><w:trPr><w:tblHeader/></w:trPr>");
                for h in header {
                    b.xml.push_str("<w:tc><w:tcPr><w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"EEF1F5\"/></w:tcPr><w:p><w:pPr><w:pStyle w:val=\"TableText\"/></w:pPr>");
                    b.run(h, true);
                    b.xml.push_str("</w:p></w:tc>");
                }
                b.xml.push_str("</w:tr>");
                for row in rows {
                    b.xml.push_str("<w:tr><w:trPr><w:cantSplit/></w:trPr>");
                    for cell in row {
                        b.xml.push_str("<w:tc><w:tcPr>");
                        if let Some(fill) = &cell.fill {
                            b.xml.push_str(&format!(
                                "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"{}\"/>",
                                xml_escape(fill)
                            ));
                        }
                        b.xml.push_str("</w:tcPr>");
                        b.para(
                            Some("TableText"),
                            &cell.content,
                            if cell.numeric {
                                "<w:jc w:val=\"right\"/>"
                            } else {
                                ""
                            },
                        );
                        b.xml.push_str("</w:tc>");
                    }
                    b.xml.push_str("</w:tr>");
                }
                b.xml.push_str("</w:tbl><w:p/>");
            }
        }
    }
    let document = format!(
        "{XML_HEAD}<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"{REL_NS}\"><w:body>{}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1134\" w:right=\"850\" w:bottom=\"1134\" w:left=\"1701\" w:header=\"708\" w:footer=\"708\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>",
        b.xml
    );
    let mut rels = format!(
        "{XML_HEAD}<Relationships xmlns=\"{PKG_REL_NS}\"><Relationship Id=\"rId1\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/>"
    );
    for (n, url) in b.links.iter().enumerate() {
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" Type=\"{REL_NS}/hyperlink\" Target=\"{}\" TargetMode=\"External\"/>",
            n + 2,
            xml_escape(url)
        ));
    }
    rels.push_str("</Relationships>");
    let mut zip = Zip::new();
    zip.add(
        "[Content_Types].xml",
        format!("{XML_HEAD}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/><Override PartName=\"/word/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/><Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/></Types>").as_bytes(),
    );
    zip.add(
        "_rels/.rels",
        format!("{XML_HEAD}<Relationships xmlns=\"{PKG_REL_NS}\"><Relationship Id=\"rId1\" Type=\"{REL_NS}/officeDocument\" Target=\"word/document.xml\"/><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/></Relationships>").as_bytes(),
    );
    zip.add(
        "docProps/core.xml",
        format!("{XML_HEAD}<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title><dc:creator>otklik</dc:creator><dc:language>ru-RU</dc:language></cp:coreProperties>", xml_escape(&doc.title)).as_bytes(),
    );
    zip.add("word/_rels/document.xml.rels", rels.as_bytes());
    zip.add("word/document.xml", document.as_bytes());
    zip.add(
        "word/styles.xml",
        format!("{XML_HEAD}{DOCX_STYLES}").as_bytes(),
    );
    zip.finish()
}

/// The spreadsheet column name of a 0-based index: A … Z, AA …
pub fn column_name(mut index: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

const XLSX_STYLES: &str = r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="dd.mm.yyyy hh:mm"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#;

/// Most characters a spreadsheet cell holds.
const CELL_MAX: usize = 32_767;

/// A local time as the reports write it (`21.09.2026 10:05`) as a spreadsheet date: days
/// since 30.12.1899, so that the column sorts and filters as dates.
fn spreadsheet_date(value: &str) -> Option<f64> {
    let t = chrono::NaiveDateTime::parse_from_str(value, "%d.%m.%Y %H:%M").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    Some((t - epoch).num_seconds() as f64 / 86_400.0)
}

/// One sheet: a bold, frozen header row, then the rows; cells that are whole numbers are
/// written as numbers, times (`21.09.2026 10:05`) as dates, the rest as text.
pub fn xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut sheet = String::with_capacity(256 * (rows.len() + 1));
    sheet.push_str(XML_HEAD);
    sheet.push_str("<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews><cols>");
    for (i, h) in header.iter().enumerate() {
        let width = if *h == "Текст" { 60 } else { 18 };
        sheet.push_str(&format!(
            "<col min=\"{n}\" max=\"{n}\" width=\"{width}\" customWidth=\"1\"/>",
            n = i + 1
        ));
    }
    sheet.push_str("</cols><sheetData>");
    let cell = |sheet: &mut String, r: usize, c: usize, value: &str, style: u8| {
        let reference = format!("{}{}", column_name(c), r);
        let style = if style > 0 {
            format!(" s=\"{style}\"")
        } else {
            String::new()
        };
        if style.is_empty()
            && !value.is_empty()
            && value.len() <= 15
            && value.bytes().all(|b| b.is_ascii_digit())
            && !value.starts_with('0')
        {
            sheet.push_str(&format!("<c r=\"{reference}\"><v>{value}</v></c>"));
        } else if let Some(date) = spreadsheet_date(value).filter(|_| style.is_empty()) {
            sheet.push_str(&format!("<c r=\"{reference}\" s=\"2\"><v>{date}</v></c>"));
        } else if !value.is_empty() {
            let text: String = value.chars().take(CELL_MAX).collect();
            sheet.push_str(&format!(
                "<c r=\"{reference}\" t=\"inlineStr\"{style}><is><t xml:space=\"preserve\">{}</t></is></c>",
                xml_escape(&text)
            ));
        }
    };
    sheet.push_str("<row r=\"1\">");
    for (c, h) in header.iter().enumerate() {
        cell(&mut sheet, 1, c, h, 1);
    }
    sheet.push_str("</row>");
    for (n, row) in rows.iter().enumerate() {
        let r = n + 2;
        sheet.push_str(&format!("<row r=\"{r}\">"));
        for (c, value) in row.iter().enumerate() {
            cell(&mut sheet, r, c, value, 0);
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData>");
    if !header.is_empty() {
        sheet.push_str(&format!(
            "<autoFilter ref=\"A1:{}{}\"/>",
            column_name(header.len() - 1),
            rows.len() + 1
        ));
    }
    sheet.push_str("</worksheet>");

    let mut zip = Zip::new();
    zip.add(
        "[Content_Types].xml",
        format!("{XML_HEAD}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/><Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/></Types>").as_bytes(),
    );
    zip.add(
        "_rels/.rels",
        format!("{XML_HEAD}<Relationships xmlns=\"{PKG_REL_NS}\"><Relationship Id=\"rId1\" Type=\"{REL_NS}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>").as_bytes(),
    );
    zip.add(
        "xl/workbook.xml",
        format!("{XML_HEAD}<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"{REL_NS}\"><sheets><sheet name=\"{}\" sheetId=\"1\" r:id=\"rId1\"/></sheets>{}</workbook>",
            xml_escape(sheet_name),
            if header.is_empty() { String::new() } else {
                format!("<definedNames><definedName name=\"_xlnm._FilterDatabase\" localSheetId=\"0\" hidden=\"1\">'{}'!$A$1:${}${}</definedName></definedNames>",
                    xml_escape(sheet_name), column_name(header.len() - 1), rows.len() + 1)
            }).as_bytes(),
    );
    zip.add(
        "xl/_rels/workbook.xml.rels",
        format!("{XML_HEAD}<Relationships xmlns=\"{PKG_REL_NS}\"><Relationship Id=\"rId1\" Type=\"{REL_NS}/worksheet\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/></Relationships>").as_bytes(),
    );
    zip.add("xl/worksheets/sheet1.xml", sheet.as_bytes());
    zip.add(
        "xl/styles.xml",
        format!("{XML_HEAD}{XLSX_STYLES}").as_bytes(),
    );
    zip.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_become_spreadsheet_dates() {
        // 01.01.1900 is day 2 in this count; 21.09.2026 10:05 is 46286.42013…
        assert_eq!(super::spreadsheet_date("01.01.1900 00:00"), Some(2.0));
        let d = super::spreadsheet_date("21.09.2026 10:05").unwrap();
        assert!(
            (d - (46_286.0 + (10.0 * 60.0 + 5.0) / 1440.0)).abs() < 1e-9,
            "{d}"
        );
        assert_eq!(super::spreadsheet_date("Сообщение"), None);
    }
}
