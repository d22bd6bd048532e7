//! E-mail over SMTP (lettre): STARTTLS, implicit TLS, or plain for a local relay.
//!
//! Each message has a text and an HTML part, a UTF-8 subject (encoded by lettre as RFC 2047
//! words), and a `Message-ID` made from the delivery's idempotency key: a copy sent again
//! after a crash carries the same id, which mail clients recognise as the same message.

use super::outbox::{SendError, Sent};
use super::{EmailSettings, SmtpSecurity};
use crate::store::Delivery;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation auto-replies to the daemon.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// `X-Otklik-Key`: the delivery's idempotency key, for filters and for telling repeats apart.
#[derive(Clone)]
struct OtklikKey(String);

impl Header for OtklikKey {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Otklik-Key")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OtklikKey(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// An SMTP server to send through.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailChannel {
    pub fn new(s: &EmailSettings) -> Result<EmailChannel, String> {
        let builder = match s.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| e.to_string())?,
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
            }
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        };
        let mut builder = builder.timeout(Some(Duration::from_secs(s.timeout_secs)));
        if !s.ca_file.is_empty() && s.security != SmtpSecurity::Plain {
            // A private CA (a relay inside the administration's network): trust it too.
            let pem = std::fs::read(&s.ca_file)
                .map_err(|e| format!("alerts.email.ca_file {}: {e}", s.ca_file))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("alerts.email.ca_file {}: {e}", s.ca_file))?;
            let params = TlsParameters::builder(s.host.clone())
                .add_root_certificate(cert)
                .build()
                .map_err(|e| e.to_string())?;
            builder = builder.tls(if s.security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        }
        if s.port != 0 {
            builder = builder.port(s.port);
        }
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), s.password.clone()));
        }
        let from = s
            .from
            .parse()
            .map_err(|e| format!("alerts.email.from: {e}"))?;
        Ok(EmailChannel {
            transport: builder.build(),
            from,
        })
    }

    /// Build the message for `d` to `name <address>`.
    pub fn message(&self, d: &Delivery, name: &str, address: &str) -> Result<Message, SendError> {
        let to = Mailbox::new(
            Some(name.to_string()),
            address
                .parse()
                .map_err(|e| SendError::permanent(format!("адрес «{address}»: {e}")))?,
        );
        let domain = self.from.email.domain().to_string();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(d.subject.clone())
            .message_id(Some(format!("<{}@{}>", d.key, domain)))
            .header(AutoSubmitted)
            .header(OtklikKey(d.key.clone()))
            .multipart(MultiPart::alternative_plain_html(
                d.text.clone(),
                d.html.clone(),
            ))
            .map_err(|e| SendError::permanent(format!("письмо не собрано: {e}")))
    }

    pub async fn send(&self, d: &Delivery, name: &str, address: &str) -> Result<Sent, SendError> {
        let message = self.message(d, name, address)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(Sent {
                answer: format!(
                    "SMTP {}: {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            }),
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::transient(format!("SMTP: {e}"))),
        }
    }
}
