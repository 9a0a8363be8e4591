//! Host names as the server settings name them (`server.allowed_hosts`) and as a
//! request's `Host` carries them: a DNS name or an IP address, compared without regard
//! to case, and the lists of them (and of proxies' addresses) a setting holds.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use url::Url;

/// A DNS name (lower case) or an IP address; never a port, a scheme or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostName {
    Ip(IpAddr),
    Name(String),
}

impl HostName {
    /// `localhost`, `disco.example.org`, `192.0.2.7`, `::1` or `[::1]`.
    pub fn parse(text: &str) -> Result<HostName, String> {
        let text = text.trim();
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return match inner.parse::<IpAddr>() {
                Ok(ip @ IpAddr::V6(_)) => Ok(HostName::Ip(ip)),
                _ => Err(format!("{text:?} is not an IPv6 address in brackets")),
            };
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(HostName::Ip(ip));
        }
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if text.is_empty() || !text.chars().all(is_name_char) {
            return Err(format!(
                "expected a host name or an IP address without a port, got {text:?}"
            ));
        }
        Ok(HostName::Name(text.to_ascii_lowercase()))
    }

    /// The host of an http(s) URL (`server.public_url`).
    pub fn of_url(url: &Url) -> Option<HostName> {
        match url.host()? {
            url::Host::Domain(name) => Some(HostName::Name(name.to_ascii_lowercase())),
            url::Host::Ipv4(ip) => Some(HostName::Ip(ip.into())),
            url::Host::Ipv6(ip) => Some(HostName::Ip(ip.into())),
        }
    }
}

impl FromStr for HostName {
    type Err = String;

    fn from_str(text: &str) -> Result<HostName, String> {
        HostName::parse(text)
    }
}

/// As it goes in a URL's authority: IPv6 addresses in brackets.
impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostName::Ip(ip) => write!(f, "{ip}"),
            HostName::Name(name) => f.write_str(name),
        }
    }
}

/// A list setting: a TOML array, or (from a `DISCO_*` variable) one string of entries
/// separated by commas or spaces. Each entry is parsed at load; a bad one is an error.
pub(super) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct List<T>(std::marker::PhantomData<T>);

    impl<'de, T> Visitor<'de> for List<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings, or one string of comma-separated entries")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<T>, E> {
            text.split([',', ' '])
                .filter(|entry| !entry.trim().is_empty())
                .map(|entry| parse(entry.trim()))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = seq.next_element::<String>()? {
                entries.push(parse(entry.trim())?);
            }
            Ok(entries)
        }
    }

    fn parse<T, E>(entry: &str) -> Result<T, E>
    where
        T: FromStr,
        T::Err: fmt::Display,
        E: de::Error,
    {
        entry
            .parse()
            .map_err(|e| E::custom(format!("{entry:?}: {e}")))
    }

    deserializer.deserialize_any(List(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_addresses_are_addresses() {
        assert_eq!(
            HostName::parse("Disco.Example.ORG"),
            Ok(HostName::Name("disco.example.org".into()))
        );
        assert_eq!(
            HostName::parse("[::1]"),
            Ok(HostName::Ip("::1".parse().expect("ip")))
        );
        assert_eq!(HostName::parse("::1"), HostName::parse("[::1]"));
        assert_eq!(HostName::parse("[::1]").expect("ip").to_string(), "[::1]");
        assert_eq!(
            HostName::parse("192.0.2.7").expect("ip").to_string(),
            "192.0.2.7"
        );
    }

    #[test]
    fn ports_schemes_and_paths_are_not_host_names() {
        for bad in [
            "",
            "disco.example:8888",
            "http://disco.example",
            "disco/x",
            "[192.0.2.7]",
            "a b",
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
