//! `Receivables-Signature`: how a body is signed, by a CRM posting an event and by the
//! service delivering a webhook. The header is `t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 of `"<t>.<raw body>"` under a shared secret; during a rotation it carries one
//! `v1` per secret. Plain functions over bytes: nothing here knows of HTTP.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "Receivables-Signature";

/// How far a signature's timestamp may be from the receiver's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The hex HMAC-SHA256 of `"<t>.<body>"`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    hex(&mac(secret, t, body).finalize().into_bytes())
}

/// The header value signing `body` at `t` with every one of `secrets`.
pub fn header<'a>(secrets: impl IntoIterator<Item = &'a [u8]>, t: i64, body: &[u8]) -> String {
    let mut value = format!("t={t}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&sign(secret, t, body));
    }
    value
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No header.
    Missing,
    /// The header is not `t=<unix>,v1=<hex>`.
    Malformed,
    /// `t` is further than [`TOLERANCE_SECONDS`] from now: a replay, or a clock far off.
    Stale,
    /// No `v1` matches any secret.
    Mismatch,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Missing => "the Receivables-Signature header is missing",
            Refused::Malformed => "the Receivables-Signature header is not t=<unix>,v1=<hex>",
            Refused::Stale => "the signature's timestamp is more than 5 minutes from now",
            Refused::Mismatch => "the signature does not match the body under any secret",
        }
    }
}

/// A verified signature: which secret matched (its index in the list given) and when the
/// sender signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub secret: usize,
    pub t: i64,
}

/// Checks `header` over the raw `body` against `secrets` at `now` (unix seconds). The
/// comparison is in constant time.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
) -> Result<Verified, Refused> {
    let header = header.ok_or(Refused::Missing)?;
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(Refused::Malformed)?;
        match name {
            "t" if t.is_none() => {
                t = Some(value.parse::<i64>().map_err(|_| Refused::Malformed)?);
            }
            "v1" => signatures.push(unhex(value).ok_or(Refused::Malformed)?),
            // Other schemes a later sender may add are not ours to judge.
            _ if name != "t" => {}
            _ => return Err(Refused::Malformed),
        }
    }
    let t = t.ok_or(Refused::Malformed)?;
    if signatures.is_empty() {
        return Err(Refused::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(Refused::Stale);
    }
    for (index, secret) in secrets.iter().enumerate() {
        for signature in &signatures {
            if mac(secret, t, body).verify_slice(signature).is_ok() {
                return Ok(Verified { secret: index, t });
            }
        }
    }
    Err(Refused::Mismatch)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"account.upserted"}"#;
    const NOW: i64 = 1_764_000_000;

    #[test]
    fn a_known_vector_matches_openssl() {
        // printf '%s' '1764000000.{"id":"evt_1","type":"account.upserted"}' \
        //   | openssl dgst -sha256 -hmac 'whsec_test' -hex
        assert_eq!(
            sign(b"whsec_test", NOW, BODY),
            "af84ff5df0786f958a7573b18bbaa8241e423f5e45e9bb1c4908524c3b7e4772"
        );
    }

    #[test]
    fn a_signature_verifies_under_its_secret_and_names_it() {
        let h = header([b"old".as_slice(), b"new".as_slice()], NOW, BODY);
        assert_eq!(
            verify(Some(&h), BODY, &[b"new"], NOW + 10),
            Ok(Verified { secret: 0, t: NOW })
        );
        let h = header([b"old".as_slice()], NOW, BODY);
        assert_eq!(
            verify(Some(&h), BODY, &[b"new", b"old"], NOW - 10),
            Ok(Verified { secret: 1, t: NOW })
        );
    }

    #[test]
    fn refusals_say_why() {
        let h = header([b"s".as_slice()], NOW, BODY);
        let cases: &[(Option<&str>, &[u8], i64, Refused)] = &[
            (None, BODY, NOW, Refused::Missing),
            (Some("v1=abcd"), BODY, NOW, Refused::Malformed),
            (Some("t=1,v1=xyz"), BODY, NOW, Refused::Malformed),
            (Some("t=soon,v1=ab"), BODY, NOW, Refused::Malformed),
            (Some("t=1764000000"), BODY, NOW, Refused::Malformed),
            (Some(&h), BODY, NOW + 301, Refused::Stale),
            (Some(&h), BODY, NOW - 301, Refused::Stale),
            (Some(&h), b"{}", NOW, Refused::Mismatch),
        ];
        for (header, body, now, expected) in cases {
            assert_eq!(
                verify(*header, body, &[b"s"], *now),
                Err(*expected),
                "{header:?}"
            );
        }
        assert_eq!(
            verify(Some(&h), BODY, &[b"other"], NOW),
            Err(Refused::Mismatch)
        );
        assert!(verify(Some(&h), BODY, &[b"s"], NOW + 300).is_ok());
    }
}
