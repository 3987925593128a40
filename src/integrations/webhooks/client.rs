//! The HTTP client deliveries go out with: no redirects followed, no proxy, timeouts on the
//! connection and on the whole request, `https:` only unless the configuration allows
//! `http:`, and a resolver that refuses a name when any address it resolves to is one
//! webhooks may not reach (checked at every delivery, so a name cannot be re-pointed at an
//! internal address after the endpoint was registered).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::rules;
use super::settings::{Network, WebhookSettings};

struct GuardedResolver {
    allowed: Arc<Vec<Network>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            for address in &addresses {
                if let Some(reason) = rules::refuse_address(address.ip(), &allowed) {
                    return Err(format!("{host}: {reason}").into());
                }
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

pub fn build(settings: &WebhookSettings) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allowed: Arc::new(settings.allowed_networks.clone()),
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .https_only(!settings.allow_http)
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .timeout(Duration::from_millis(settings.timeout_ms))
        .user_agent(concat!("Receivables-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the webhook client: {e}"))
}

/// An error with its causes, the way the delivery log shows it.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
