//! The demo's mail server: a loopback SMTP server (RFC 5321, the commands an SMTP client
//! without authentication uses) that accepts every message the alerts worker sends and keeps
//! it as an `.eml` file, so that the person watching sees alerts delivered and can open them
//! in any mail program, instead of dead letters for want of a channel.

use crate::alerts::{EmailSettings, SmtpSecurity};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The largest message accepted (alerts are a few kilobytes; the weekly note's attachment more).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// The longest command line accepted (RFC 5321 allows 512 octets).
const MAX_COMMAND: usize = 4096;

/// A running mail server on 127.0.0.1.
pub struct MailSink {
    pub addr: SocketAddr,
    /// Where the messages are written, one `NNNNN.eml` per message.
    pub dir: PathBuf,
    server: super::Loopback,
}

/// A message as received, for the narration.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub file: PathBuf,
    pub recipients: Vec<String>,
    pub subject: String,
}

impl MailSink {
    /// Listen on a free loopback port and write messages into `dir`; `on_message` is told of
    /// each one.
    pub async fn start(
        dir: PathBuf,
        on_message: impl Fn(Received) + Send + Sync + 'static,
    ) -> std::io::Result<MailSink> {
        std::fs::create_dir_all(&dir)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let on_message = std::sync::Arc::new(on_message);
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(next_number(&dir)));
        let server = super::Loopback::spawn_task({
            let dir = dir.clone();
            move |stop| async move {
                loop {
                    let (stream, _) = tokio::select! {
                        _ = stop.cancelled() => break,
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(error) => {
                                tracing::warn!(%error, "demo mail server: accept failed");
                                continue;
                            }
                        },
                    };
                    let (dir, counter, on_message) =
                        (dir.clone(), counter.clone(), on_message.clone());
                    tokio::spawn(async move {
                        if let Err(error) = session(stream, &dir, &counter, &*on_message).await {
                            tracing::debug!(%error, "demo mail server: session ended");
                        }
                    });
                }
            }
        });
        Ok(MailSink { addr, dir, server })
    }

    /// `[alerts.email]` pointing at this server (no encryption, no authentication: loopback).
    pub fn email_settings(&self) -> EmailSettings {
        EmailSettings {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            security: SmtpSecurity::Plain,
            ..EmailSettings::default()
        }
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// The number after the highest `NNNNN.eml` already in `dir` (a demo restarted on the same
/// directory keeps the earlier messages).
fn next_number(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".eml")?.parse::<u64>().ok()
        })
        .max()
        .map_or(1, |n| n + 1)
}

/// One SMTP session: greeting, envelope, data, until QUIT or the client goes away.
async fn session(
    stream: tokio::net::TcpStream,
    dir: &Path,
    counter: &std::sync::atomic::AtomicU64,
    on_message: &(dyn Fn(Received) + Send + Sync),
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 otklik-demo ESMTP\r\n").await?;
    let mut recipients: Vec<String> = Vec::new();
    let mut sender: Option<String> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(&mut read, &mut line, MAX_COMMAND).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-otklik-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 16777216\r\n",
            "HELO" => b"250 otklik-demo\r\n",
            "MAIL" => {
                sender = Some(address_of(command));
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" if sender.is_some() => {
                recipients.push(address_of(command));
                b"250 OK\r\n"
            }
            "RCPT" => b"503 MAIL first\r\n",
            "DATA" if recipients.is_empty() => b"503 RCPT first\r\n",
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let Some(message) = read_data(&mut read).await? else {
                    write.write_all(b"552 message too large\r\n").await?;
                    return Ok(());
                };
                let number = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let file = dir.join(format!("{number:05}.eml"));
                tokio::fs::write(&file, &message).await?;
                on_message(Received {
                    file,
                    recipients: std::mem::take(&mut recipients),
                    subject: subject_of(&message),
                });
                sender = None;
                b"250 OK queued\r\n"
            }
            "RSET" => {
                sender = None;
                recipients.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Read one line (through `\n`) of at most `limit` bytes; 0 at the end of the stream.
async fn read_line(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<usize> {
    let n = (&mut *read)
        .take(limit as u64)
        .read_until(b'\n', line)
        .await?;
    if n == limit && line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(n)
}

/// The message after DATA, dot-unstuffed, without the final `.` line; `None` when larger than
/// [`MAX_MESSAGE`].
async fn read_data(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(read, &mut line, MAX_MESSAGE).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(message));
        }
        let body = line.strip_prefix(b".").unwrap_or(&line);
        if message.len() + body.len() > MAX_MESSAGE {
            return Ok(None);
        }
        message.extend_from_slice(body);
    }
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address_of(command: &str) -> String {
    let rest = command.split_once(':').map_or("", |(_, rest)| rest).trim();
    let rest = rest.split_whitespace().next().unwrap_or("");
    rest.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// The Subject header, unfolded, with RFC 2047 encoded words (`=?utf-8?b?…?=`) decoded.
pub fn subject_of(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut subject: Option<String> = None;
    for line in head.lines() {
        match &mut subject {
            Some(s) if line.starts_with([' ', '\t']) => s.push_str(line),
            Some(_) => break,
            None => {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("subject")
                {
                    subject = Some(value.to_string());
                }
            }
        }
    }
    decode_words(subject.as_deref().unwrap_or("").trim())
}

/// Decode the RFC 2047 encoded words of a header value (B and Q encodings, UTF-8); white
/// space between two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                let bytes = match encoding {
                    "b" | "B" => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .ok()?,
                    "q" | "Q" => quoted_printable_word(text),
                    _ => return None,
                };
                String::from_utf8(bytes).ok()
            });
        match decoded {
            Some(text) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&text);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_string();
    }
    out
}

/// The Q encoding of RFC 2047: `_` is a space, `=XX` a byte.
fn quoted_printable_word(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'='),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_unfolded_and_decoded() {
        let message = b"From: a@b\r\nSubject: =?utf-8?b?0J3QvtCy0YvQuQ==?=\r\n =?utf-8?b?INC40L3RhtC40LTQtdC90YI=?= 5\r\nTo: c@d\r\n\r\nbody";
        assert_eq!(subject_of(message), "Новый инцидент 5");
        assert_eq!(
            subject_of(b"Subject: =?UTF-8?Q?=D0=AF=D0=BC=D0=B0_=E2=84=96?= 7\r\n\r\n"),
            "Яма № 7"
        );
        assert_eq!(subject_of(b"Subject: plain text\r\n\r\n"), "plain text");
        assert_eq!(subject_of(b"To: x\r\n\r\nSubject: in the body"), "");
    }

    fn delivery(key: &str, subject: &str) -> crate::store::Delivery {
        let message = crate::alerts::render::Message {
            subject: subject.into(),
            text: "Текст письма.".into(),
            html: "<p>Текст письма.</p>".into(),
            telegram: String::new(),
        };
        let channel = Some(crate::store::Channel::Email);
        let mut d = crate::alerts::outbox::new_delivery(
            1,
            &[1],
            "shopsha-head",
            channel,
            false,
            message,
            chrono::Utc::now(),
        );
        d.key = key.into();
        d
    }

    #[tokio::test]
    async fn the_daemons_own_smtp_client_delivers_into_numbered_files() {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = MailSink::start(mail.clone(), {
            let tx = tx.clone();
            move |m| tx.send(m).unwrap()
        })
        .await
        .unwrap();
        let channel = crate::alerts::email::EmailChannel::new(&sink.email_settings()).unwrap();
        let subject = "[Отклик] Новый инцидент № 3: Дороги";
        channel
            .send(
                &delivery("otklik-alert-3.shopsha-head", subject),
                "Глава",
                "shopsha-head@gavyam.example",
            )
            .await
            .unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(got.recipients, ["shopsha-head@gavyam.example"]);
        assert_eq!(got.subject, subject);
        assert_eq!(got.file, mail.join("00001.eml"));
        let eml = std::fs::read_to_string(&got.file).unwrap();
        assert!(
            eml.contains("X-Otklik-Key: otklik-alert-3.shopsha-head"),
            "{eml}"
        );
        sink.stop().await;

        // Started again on the same directory, it keeps what is there and numbers on.
        let sink = MailSink::start(mail.clone(), move |m| tx.send(m).unwrap())
            .await
            .unwrap();
        let channel = crate::alerts::email::EmailChannel::new(&sink.email_settings()).unwrap();
        channel
            .send(
                &delivery("k-2", "Второе"),
                "Глава",
                "shopsha-head@gavyam.example",
            )
            .await
            .unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(got.file, mail.join("00002.eml"));
        assert!(mail.join("00001.eml").exists());
        sink.stop().await;
    }

    #[tokio::test]
    async fn commands_out_of_order_and_unknown_ones_are_refused_and_the_session_goes_on() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = MailSink::start(dir.path().to_path_buf(), move |m| tx.send(m).unwrap())
            .await
            .unwrap();
        let stream = tokio::net::TcpStream::connect(sink.addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = tokio::io::BufReader::new(read).lines();
        let greeting = lines.next_line().await.unwrap().unwrap();
        assert!(greeting.starts_with("220"), "{greeting}");
        let mut ask = async |command: &str| {
            write.write_all(command.as_bytes()).await.unwrap();
            lines.next_line().await.unwrap().unwrap()
        };
        assert!(ask("RCPT TO:<a@b>\r\n").await.starts_with("503"));
        assert!(ask("DATA\r\n").await.starts_with("503"));
        assert!(ask("VRFY x\r\n").await.starts_with("502"));
        assert!(ask("HELO test\r\n").await.starts_with("250"));
        assert!(ask("MAIL FROM:<a@b>\r\n").await.starts_with("250"));
        assert!(ask("RCPT TO:<c@d>\r\n").await.starts_with("250"));
        assert!(ask("DATA\r\n").await.starts_with("354"));
        let body = "Subject: x\r\n\r\n..a line that began with a dot\r\n.\r\n";
        assert!(ask(body).await.starts_with("250"));
        assert!(ask("QUIT\r\n").await.starts_with("221"));
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&got.file).unwrap(),
            "Subject: x\r\n\r\n.a line that began with a dot\r\n"
        );
        sink.stop().await;
    }

    #[test]
    fn envelope_addresses_are_read_with_or_without_brackets_and_parameters() {
        assert_eq!(
            address_of("MAIL FROM:<otklik@localhost> SIZE=100"),
            "otklik@localhost"
        );
        assert_eq!(
            address_of("RCPT TO: zhkh@gavyam.example"),
            "zhkh@gavyam.example"
        );
    }
}
