//! Cross-site protection. The console listens on 127.0.0.1 only, yet a page from anywhere
//! the browser visits could still send it requests: every request must name this console as
//! its `Host` (a DNS-rebound name does not), and every action must carry this console's
//! session token (only its own page has it) and, when the browser says where it comes from,
//! this console's `Origin`.

use axum::http::{HeaderMap, StatusCode};

/// The header the console's page sends its token in.
pub const TOKEN_HEADER: &str = "x-console-token";

/// What a request must match: the port the console listens on and the session's token.
#[derive(Debug, Clone)]
pub struct Guard {
    port: u16,
    token: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this console answers only as 127.0.0.1:{0} or localhost:{0}")]
    Host(u16),
    #[error("cross-site request refused: Origin {0} is not this console")]
    Origin(String),
    #[error("missing or wrong console token: reload the console")]
    Token,
}

impl Refused {
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::Host(_) => StatusCode::MISDIRECTED_REQUEST,
            Refused::Origin(_) | Refused::Token => StatusCode::FORBIDDEN,
        }
    }
}

impl Guard {
    /// A guard with a fresh random token (one per console run: its session).
    pub fn new(port: u16) -> Guard {
        Guard {
            port,
            token: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    fn own_hosts(&self) -> [String; 2] {
        [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
        ]
    }

    /// Any request: it must be addressed to this console.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let host = header(headers, "host").unwrap_or_default();
        if self.own_hosts().iter().any(|h| h == host) {
            Ok(())
        } else {
            Err(Refused::Host(self.port))
        }
    }

    /// An action (a request that changes something): host, origin and token.
    pub fn check_action(&self, headers: &HeaderMap) -> Result<(), Refused> {
        self.check_host(headers)?;
        if let Some(origin) = header(headers, "origin") {
            let own = self
                .own_hosts()
                .iter()
                .any(|h| origin == format!("http://{h}"));
            if !own {
                return Err(Refused::Origin(origin.to_owned()));
            }
        }
        // Compared in full whatever the first difference: the token is the session's secret.
        let given = header(headers, TOKEN_HEADER).unwrap_or_default().as_bytes();
        let want = self.token.as_bytes();
        let same = given.len() == want.len()
            && given
                .iter()
                .zip(want)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(Refused::Token)
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_request_for_another_host_name_is_refused_even_on_the_right_port() {
        let g = Guard::new(3001);
        assert!(g
            .check_host(&headers(&[("host", "127.0.0.1:3001")]))
            .is_ok());
        assert!(g
            .check_host(&headers(&[("host", "localhost:3001")]))
            .is_ok());
        assert_eq!(
            g.check_host(&headers(&[("host", "evil.example:3001")])),
            Err(Refused::Host(3001))
        );
        assert!(g.check_host(&HeaderMap::new()).is_err());
    }

    #[test]
    fn an_action_needs_the_session_token_and_this_consoles_origin() {
        let g = Guard::new(3001);
        let token = g.token().to_owned();
        let ok = [
            ("host", "127.0.0.1:3001"),
            ("origin", "http://127.0.0.1:3001"),
        ];
        let with_token = |extra: &[(&'static str, &str)]| {
            let mut all: Vec<(&'static str, &str)> = extra.to_vec();
            all.push((TOKEN_HEADER, token.as_str()));
            headers(&all)
        };
        assert!(g.check_action(&with_token(&ok)).is_ok());
        assert_eq!(g.check_action(&headers(&ok)), Err(Refused::Token));
        let cross = [
            ("host", "127.0.0.1:3001"),
            ("origin", "http://evil.example"),
        ];
        assert_eq!(
            g.check_action(&with_token(&cross)),
            Err(Refused::Origin("http://evil.example".into()))
        );
        let wrong = [("host", "127.0.0.1:3001"), (TOKEN_HEADER, "0000")];
        assert_eq!(g.check_action(&headers(&wrong)), Err(Refused::Token));
    }

    #[test]
    fn two_consoles_never_share_a_token() {
        assert_ne!(Guard::new(1).token(), Guard::new(1).token());
    }
}
