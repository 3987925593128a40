//! The rules of webhooks as plain functions: which URLs and addresses an endpoint may have,
//! when a failed delivery is tried again, what of an answer is kept.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Url;
use time::{Duration, OffsetDateTime};

use super::settings::{Network, WebhookSettings};
use crate::outbox::EventType;
use crate::validate::Errors;

/// The first retry waits about this long; each next one twice as long.
pub const FIRST_RETRY_SECONDS: i64 = 10;
/// No wait between attempts is longer than this.
pub const LONGEST_RETRY_SECONDS: i64 = 6 * 3600;
/// How much of an endpoint's answer the log keeps.
pub const KEPT_RESPONSE_BYTES: usize = 1024;
/// How long a rotated-out secret still signs deliveries.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// The range `ip` belongs to when deliveries may not reach it: loopback, private networks,
/// link-local (cloud metadata services live there), multicast and the other special ranges.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64: the address embeds an IPv4 one.
                let [.., a, b] = v6.segments();
                forbidden_v4(Ipv4Addr::from((u32::from(a) << 16) | u32::from(b)))
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a == 0 {
        Some("unspecified")
    } else if a == 100 && b & 0xc0 == 64 {
        Some("shared address space")
    } else if (a == 192 && b == 0 && c == 0) || (a == 198 && b & 0xfe == 18) || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

/// Why a delivery may not go to `ip`; `None` when it may.
pub fn refuse_address(ip: IpAddr, allowed: &[Network]) -> Option<String> {
    let range = forbidden_range(ip)?;
    if allowed.iter().any(|n| n.contains(ip)) {
        return None;
    }
    Some(format!(
        "{ip} is a {range} address, which webhooks may not reach"
    ))
}

/// Checks an endpoint URL: absolute, `https:` (or `http:` when allowed), with a host and no
/// credentials; a literal address must be one deliveries may reach. Names are checked at
/// every delivery, against every address they resolve to.
pub fn check_url(url: &str, settings: &WebhookSettings, e: &mut Errors) {
    if url.len() > 2000 {
        e.add("url", "too_long", "must be at most 2000 characters");
        return;
    }
    let parsed = match Url::parse(url) {
        Ok(parsed) => parsed,
        Err(err) => {
            e.add("url", "invalid", format!("is not an absolute URL: {err}"));
            return;
        }
    };
    match parsed.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        "http" => {
            return e.add("url", "insecure", "must be https");
        }
        other => {
            return e.add("url", "invalid", format!("must be https, not {other}"));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        e.add("url", "invalid", "must not carry a user name or password");
    }
    if parsed.fragment().is_some() {
        e.add("url", "invalid", "must not have a fragment");
    }
    match parsed.host_str() {
        None | Some("") => e.add("url", "invalid", "must name a host"),
        Some(host) => {
            if let Some(reason) =
                literal_address(host).and_then(|ip| refuse_address(ip, &settings.allowed_networks))
            {
                e.add("url", "forbidden_address", reason);
            }
        }
    }
}

/// The address a URL's host is written as, when it is one (`10.0.0.1`, `[::1]`).
pub fn literal_address(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Checks what an endpoint is made of, whichever request set it.
pub fn check_endpoint(
    url: &str,
    event_types: &[EventType],
    description: Option<&str>,
    settings: &WebhookSettings,
) -> Errors {
    let mut e = Errors::default();
    check_url(url, settings, &mut e);
    for (i, t) in event_types.iter().enumerate() {
        if event_types[..i].contains(t) {
            e.add(
                &format!("event_types[{i}]"),
                "duplicate",
                format!("{} is listed twice", t.as_str()),
            );
        }
    }
    e.optional_text("description", description, 500);
    e
}

/// When a delivery that failed its `attempts`-th attempt at `now` is tried again: after an
/// exponential wait (10 s, 20 s, 40 s, ... at most 6 h), of which the second half is jitter
/// (`jitter` in 0..1) so that failed deliveries do not retry in step; `None` when that would
/// pass the retry window since the event, and the delivery fails.
pub fn next_attempt(
    attempts: i32,
    now: OffsetDateTime,
    created_at: OffsetDateTime,
    retry_window: Duration,
    jitter: f64,
) -> Option<OffsetDateTime> {
    let doublings = u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(20);
    let wait = (FIRST_RETRY_SECONDS << doublings).min(LONGEST_RETRY_SECONDS);
    let half = wait / 2;
    let wait = half + (half as f64 * jitter.clamp(0.0, 1.0)).round() as i64;
    let next = now + Duration::seconds(wait);
    (next <= created_at + retry_window).then_some(next)
}

/// The kept part of an answer: at most [`KEPT_RESPONSE_BYTES`], cut at a character boundary.
pub fn kept_response(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(KEPT_RESPONSE_BYTES + 4)]);
    let mut end = text.len().min(KEPT_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("whsec_{hex}")
}

/// The secrets a delivery at `now` is signed with: the current one, and the one before the
/// last rotation while it overlaps.
pub fn signing_secrets<'a>(
    secret: &'a str,
    previous: Option<&'a str>,
    previous_expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Vec<&'a [u8]> {
    let mut secrets = vec![secret.as_bytes()];
    if let (Some(previous), Some(until)) = (previous, previous_expires_at) {
        if now < until {
            secrets.push(previous.as_bytes());
        }
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forbidden_ranges_are_named() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("10.20.30.40", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("cloud metadata")),
            ("169.254.1.1", Some("link-local")),
            ("224.0.0.1", Some("multicast")),
            ("0.0.0.0", Some("unspecified")),
            ("100.64.0.1", Some("shared address space")),
            ("255.255.255.255", Some("reserved")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fd00:ec2::254", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("cloud metadata")),
            ("93.184.216.34", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("2606:2800:220:1::1", None),
        ];
        for (address, range) in cases {
            assert_eq!(forbidden_range(ip(address)), range, "{address}");
        }
    }

    #[test]
    fn allowed_networks_open_a_forbidden_range_and_only_it() {
        let allowed = vec!["127.0.0.1/32".parse().unwrap()];
        assert_eq!(refuse_address(ip("127.0.0.1"), &allowed), None);
        assert!(refuse_address(ip("127.0.0.2"), &allowed)
            .unwrap()
            .contains("loopback"));
        assert!(refuse_address(ip("10.0.0.1"), &allowed).is_some());
        assert_eq!(refuse_address(ip("93.184.216.34"), &[]), None);
    }

    #[test]
    fn urls_are_checked() {
        let strict = WebhookSettings::default();
        let dev = WebhookSettings {
            allow_http: true,
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..WebhookSettings::default()
        };
        let codes = |url: &str, settings: &WebhookSettings| -> Vec<String> {
            let mut e = Errors::default();
            check_url(url, settings, &mut e);
            e.0.into_iter().map(|f| f.code.to_string()).collect()
        };
        assert!(codes("https://hooks.example.com/r?x=1", &strict).is_empty());
        assert_eq!(codes("http://hooks.example.com/", &strict), ["insecure"]);
        assert!(codes("http://hooks.example.com/", &dev).is_empty());
        assert_eq!(codes("ftp://hooks.example.com/", &dev), ["invalid"]);
        assert_eq!(codes("hooks.example.com/x", &strict), ["invalid"]);
        assert_eq!(
            codes("https://user:pw@hooks.example.com/", &strict),
            ["invalid"]
        );
        assert_eq!(
            codes("https://127.0.0.1:8443/", &strict),
            ["forbidden_address"]
        );
        assert_eq!(codes("https://[::1]/", &strict), ["forbidden_address"]);
        assert_eq!(codes("https://10.1.2.3/", &strict), ["forbidden_address"]);
        assert_eq!(
            codes("https://169.254.169.254/latest/", &strict),
            ["forbidden_address"]
        );
        assert!(codes("http://127.0.0.1:9000/hook", &dev).is_empty());
        assert_eq!(codes("https://10.1.2.3/", &dev), ["forbidden_address"]);
    }

    #[test]
    fn retries_back_off_with_jitter_until_the_window_closes() {
        let created = datetime!(2026-03-02 09:00 UTC);
        let window = Duration::hours(72);
        let at = |attempts, now, jitter| next_attempt(attempts, now, created, window, jitter);
        assert_eq!(at(1, created, 0.0), Some(created + Duration::seconds(5)));
        assert_eq!(at(1, created, 1.0), Some(created + Duration::seconds(10)));
        assert_eq!(at(2, created, 1.0), Some(created + Duration::seconds(20)));
        assert_eq!(at(4, created, 0.5), Some(created + Duration::seconds(60)));
        // The wait stops doubling at six hours.
        assert_eq!(at(30, created, 1.0), Some(created + Duration::hours(6)));
        // A retry past three days after the event is not made.
        let late = created + Duration::hours(70);
        assert_eq!(at(25, late, 1.0), None);
        assert_eq!(at(25, late, 0.0), None);
        assert!(at(25, created + Duration::hours(60), 1.0).is_some());
    }

    #[test]
    fn answers_are_kept_up_to_a_kilobyte_on_a_character_boundary() {
        assert_eq!(kept_response(b"ok"), "ok");
        let long = "é".repeat(1000);
        let kept = kept_response(long.as_bytes());
        assert_eq!(kept.len(), 1024);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_rotated_out_secret_signs_until_it_expires() {
        let now = datetime!(2026-03-02 09:00 UTC);
        assert_eq!(signing_secrets("new", None, None, now).len(), 1);
        let until = Some(now + Duration::hours(1));
        assert_eq!(
            signing_secrets("new", Some("old"), until, now),
            vec![b"new".as_slice(), b"old".as_slice()]
        );
        assert_eq!(
            signing_secrets("new", Some("old"), until, now + Duration::hours(2)).len(),
            1
        );
        let secret = new_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 70);
    }
}
