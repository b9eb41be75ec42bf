//! The one way the tool makes HTTP requests: a client built from the
//! check's settings and the environment snapshot.
//!
//! - **Proxies** come from `http_proxy`, `https_proxy` and `all_proxy` (or
//!   their upper-case forms), never for a loopback address, and not for
//!   hosts `no_proxy` names (`*`, domains and their subdomains, IP
//!   addresses, CIDR blocks). The caller names the proxy in its message
//!   whenever one is used: a proxy that answers for a dead service must not
//!   pass silently.
//! - **TLS** is verified against the system's roots, plus a PEM bundle
//!   (`ca_file`) for a private CA; `insecure` turns verification off.
//! - **Redirects** are followed up to a limit, except a redirect whose
//!   status is one the check expects: that is the answer.

use std::net::IpAddr;
use std::path::Path;

use reqwest::Url;

use crate::envsnap::EnvSnapshot;
use crate::secrets::mask_url;

/// How one client behaves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settings {
    pub max_redirects: u32,
    pub insecure: bool,
    /// A PEM bundle of extra trusted roots, by path.
    pub ca_file: Option<String>,
    /// Statuses that are answers, never redirects to follow.
    pub answers: Vec<u16>,
}

/// The proxy settings of the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<String>,
    https: Option<String>,
    all: Option<String>,
    no_proxy: Vec<String>,
}

impl Proxies {
    pub fn from_env(vars: &EnvSnapshot) -> Self {
        let var = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|n| vars.non_empty(n))
                .map(|v| v.trim().to_string())
        };
        Self {
            http: var(["http_proxy", "HTTP_PROXY"]),
            https: var(["https_proxy", "HTTPS_PROXY"]),
            all: var(["all_proxy", "ALL_PROXY"]),
            no_proxy: var(["no_proxy", "NO_PROXY"])
                .map(|v| {
                    v.split(',')
                        .map(|e| e.trim().to_ascii_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn for_url(&self, url: &Url) -> Option<String> {
        let host = url
            .host_str()?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if is_loopback(&host) || self.bypassed(&host) {
            return None;
        }
        match url.scheme() {
            "http" => self.http.clone().or_else(|| self.all.clone()),
            "https" => self.https.clone().or_else(|| self.all.clone()),
            _ => None,
        }
    }

    /// Whether `no_proxy` names `host`.
    fn bypassed(&self, host: &str) -> bool {
        let ip: Option<IpAddr> = host.parse().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
                return in_cidr(ip, net, bits);
            }
            // `example.com:8080` names the host whatever the port.
            let name = entry.rsplit_once(':').map_or(entry.as_str(), |(h, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
                    h
                } else {
                    entry
                }
            });
            let name = name.trim_start_matches('.').trim_matches(['[', ']']);
            host == name || host.ends_with(&format!(".{name}"))
        })
    }
}

fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The roots a PEM bundle holds; an error says why there are none.
pub fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = crate::fsutil::read_regular(path, 4 * 1024 * 1024)?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("it is not a PEM bundle: {e}"))?;
    if certs.is_empty() {
        return Err("it holds no certificate".to_string());
    }
    Ok(certs)
}

/// A client for `settings`, with the environment's `proxies`.
pub fn client(settings: &Settings, proxies: &Proxies) -> Result<reqwest::Client, String> {
    // TLS uses ring's crypto (see Cargo.toml), the process's default
    // provider, which reqwest looks up. Installing fails only when one is
    // there already, which then serves.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let (answers, max) = (settings.answers.clone(), settings.max_redirects as usize);
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if answers.contains(&attempt.status().as_u16()) {
            attempt.stop()
        } else if attempt.previous().len() > max {
            attempt.error(format!("more than {max} redirects"))
        } else {
            attempt.follow()
        }
    });
    let p = proxies.clone();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("release-sentinel/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .no_proxy()
        .proxy(reqwest::Proxy::custom(move |url| p.for_url(url)))
        .tls_danger_accept_invalid_certs(settings.insecure);
    if let Some(path) = &settings.ca_file {
        builder = builder.tls_certs_merge(load_ca(Path::new(path))?);
    }
    builder.build().map_err(|e| e.to_string())
}

/// " via proxy <url>" for a message, credentials masked; empty without.
pub fn via(proxies: &Proxies, url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| proxies.for_url(&u))
        .map(|p| format!(" via proxy {}", mask_url(&p)))
        .unwrap_or_default()
}

/// The runtime every HTTP round of a command runs on: one thread (the
/// requests of a round wait on the network together, not on the CPU).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Whether an answer with `status` is worth another attempt: too many
/// requests, or a server error that may pass.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// A one-line reason for a request that got no answer, without the URL
/// (the caller names it, masked): the innermost I/O error when there is
/// one (`connection refused`), else the innermost cause.
pub fn transport_reason(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                std::io::ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            };
        }
        if s.source().is_none() {
            return s.to_string();
        }
        source = s.source();
    }
    if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (a date in the past is no
/// wait).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(pairs: &[(&str, &str)]) -> Proxies {
        Proxies::from_env(&EnvSnapshot::from_pairs(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    fn via_url(p: &Proxies, url: &str) -> Option<String> {
        p.for_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_is_never_proxied() {
        let p = proxies(&[
            ("http_proxy", "http://proxy:3128"),
            ("ALL_PROXY", "http://all:1"),
        ]);
        for url in [
            "http://127.0.0.1:8080/health",
            "http://127.9.9.9/",
            "http://[::1]:80/",
            "http://localhost/",
            "https://api.localhost/",
        ] {
            assert_eq!(via_url(&p, url), None, "{url}");
        }
        assert_eq!(
            via_url(&p, "http://svc.internal/").as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(
            via_url(&p, "https://svc.internal/").as_deref(),
            Some("http://all:1")
        );
    }

    #[test]
    fn no_proxy_names_domains_addresses_and_blocks() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                ".corp.example, 10.0.0.0/8, 192.168.1.5, svc:8443, fd00::/8",
            ),
        ]);
        for url in [
            "https://a.corp.example/",
            "https://corp.example/",
            "https://10.1.2.3/",
            "https://192.168.1.5/",
            "https://svc/",
            "https://[fd00::1]/",
        ] {
            assert_eq!(via_url(&p, url), None, "{url}");
        }
        for url in [
            "https://notcorp.example/",
            "https://11.0.0.1/",
            "https://192.168.1.6/",
        ] {
            assert!(via_url(&p, url).is_some(), "{url}");
        }
        assert_eq!(
            via_url(
                &proxies(&[("https_proxy", "http://p:1"), ("no_proxy", "*")]),
                "https://x/"
            ),
            None
        );
    }

    #[test]
    fn the_proxy_is_named_with_its_credentials_masked() {
        let p = proxies(&[("http_proxy", "http://user:pw@proxy:3128")]);
        assert_eq!(via(&p, "http://svc/x"), " via proxy http://***@proxy:3128");
        assert_eq!(via(&p, "http://127.0.0.1/x"), "");
    }
}
