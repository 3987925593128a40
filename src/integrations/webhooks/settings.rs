//! Webhook delivery settings (README, "Configuration").

use std::net::IpAddr;

use crate::config::{flag, parse, var, ConfigError};

/// A network written `address/prefix` (`10.1.0.0/16`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address or address/prefix"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Network { address, prefix })
    }
}

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Whether this instance runs a delivery worker.
    pub deliver: bool,
    /// Whether endpoint URLs may be `http:` (development only).
    pub allow_http: bool,
    /// Networks deliveries may reach although they are loopback, private, link-local, ...
    pub allowed_networks: Vec<Network>,
    /// How often an idle worker looks for due deliveries.
    pub poll_ms: u64,
    /// Deliveries a worker claims and sends at once.
    pub batch: i64,
    pub connect_timeout_ms: u64,
    /// The whole request, connection included.
    pub timeout_ms: u64,
    /// How long a delivery is retried before it is marked failed; an endpoint failing for as
    /// long is disabled.
    pub retry_hours: i64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            deliver: true,
            allow_http: false,
            allowed_networks: Vec::new(),
            poll_ms: 500,
            batch: 100,
            connect_timeout_ms: 5_000,
            timeout_ms: 10_000,
            retry_hours: 72,
        }
    }
}

/// `WEBHOOK_DELIVERY` (on unless `false`), `WEBHOOK_ALLOW_HTTP`, `WEBHOOK_ALLOWED_NETWORKS`
/// (comma-separated), `WEBHOOK_POLL_MS`, `WEBHOOK_BATCH`, `WEBHOOK_CONNECT_TIMEOUT_MS`,
/// `WEBHOOK_TIMEOUT_MS`, `WEBHOOK_RETRY_HOURS`.
pub fn from_env() -> Result<WebhookSettings, ConfigError> {
    let defaults = WebhookSettings::default();
    let allowed_networks = var("WEBHOOK_ALLOWED_NETWORKS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse().map_err(|reason| ConfigError {
                name: "WEBHOOK_ALLOWED_NETWORKS",
                reason,
            })
        })
        .collect::<Result<_, _>>()?;
    let positive = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
        let value = parse(name, default)?;
        if value < 1 {
            return Err(ConfigError {
                name,
                reason: format!("{value} must be at least 1"),
            });
        }
        Ok(value)
    };
    Ok(WebhookSettings {
        deliver: var("WEBHOOK_DELIVERY").is_none() || flag("WEBHOOK_DELIVERY")?,
        allow_http: flag("WEBHOOK_ALLOW_HTTP")?,
        allowed_networks,
        poll_ms: positive("WEBHOOK_POLL_MS", defaults.poll_ms as i64)? as u64,
        batch: positive("WEBHOOK_BATCH", defaults.batch)?.min(1000),
        connect_timeout_ms: positive(
            "WEBHOOK_CONNECT_TIMEOUT_MS",
            defaults.connect_timeout_ms as i64,
        )? as u64,
        timeout_ms: positive("WEBHOOK_TIMEOUT_MS", defaults.timeout_ms as i64)? as u64,
        retry_hours: positive("WEBHOOK_RETRY_HOURS", defaults.retry_hours)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_contain() {
        let net: Network = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one: Network = "127.0.0.1".parse().unwrap();
        assert_eq!(one.prefix, 32);
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("ten/8".parse::<Network>().is_err());
    }
}
