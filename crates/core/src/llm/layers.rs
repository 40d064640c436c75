//! The resilience layers around a provider as one set of options, the shape the language
//! packages' provider constructors take (`retry`, `breaker`, `max_tokens`, `max_usd`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

use super::{BreakerConfig, Budget, Meter, Provider, ProviderExt, RetryPolicy};
use crate::{Error, Result};

/// Which layers wrap a provider. Retries and the circuit breaker are on by default.
///
/// ```
/// use selfheal::llm::LayerOptions;
///
/// let options: LayerOptions = serde_json::from_value(serde_json::json!({
///     "retry": {"max_attempts": 3, "base_delay": 0.5},
///     "breaker": false,
///     "max_usd": 0.25,
/// }))?;
/// assert_eq!(options.retry_policy()?.unwrap().max_attempts, 3);
/// assert!(options.breaker_config()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOptions {
    /// Retries of transient failures with backoff.
    #[serde(default)]
    pub retry: Layer<RetryOptions>,
    /// A circuit breaker that stops calling a failing API for a while.
    #[serde(default)]
    pub breaker: Layer<BreakerOptions>,
    /// A budget of tokens: calls that would go over it are refused.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// A budget in US dollars (from the provider's list prices).
    #[serde(default)]
    pub max_usd: Option<f64>,
}

/// A layer that is on with its defaults (`true`, the default), off (`false`), or on with some
/// settings changed (an object).
#[derive(Debug, Clone)]
pub enum Layer<T> {
    /// On with the defaults, or off.
    Enabled(bool),
    /// On, with these settings over the defaults.
    Configured(T),
}

impl<T> Default for Layer<T> {
    fn default() -> Self {
        Layer::Enabled(true)
    }
}

/// The settings of one layer.
pub trait LayerSettings: DeserializeOwned {
    /// The layer's option name, for error messages.
    const NAME: &'static str;
}

impl LayerSettings for RetryOptions {
    const NAME: &'static str = "retry";
}

impl LayerSettings for BreakerOptions {
    const NAME: &'static str = "breaker";
}

impl<'de, T: LayerSettings> Deserialize<'de> for Layer<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        // Not `untagged`: its error would hide which setting was wrong.
        let name = T::NAME;
        match Value::deserialize(deserializer)? {
            Value::Bool(on) => Ok(Layer::Enabled(on)),
            Value::Null => Ok(Layer::Enabled(true)),
            settings @ Value::Object(_) => serde_json::from_value(settings)
                .map(Layer::Configured)
                .map_err(|e| serde::de::Error::custom(format!("{name}: {e}"))),
            other => Err(serde::de::Error::custom(format!(
                "{name}: expected true, false or an object of settings, found {other}"
            ))),
        }
    }
}

/// Retry settings over [`RetryPolicy::default`]; durations in seconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryOptions {
    /// Attempts in all, the first included.
    pub max_attempts: Option<u32>,
    /// The first backoff.
    pub base_delay: Option<f64>,
    /// The growth of the backoff per attempt.
    pub multiplier: Option<f64>,
    /// The longest backoff.
    pub max_delay: Option<f64>,
    /// The random part of each backoff, as a fraction of it.
    pub jitter: Option<f64>,
    /// The longest `Retry-After` honoured; a longer one fails the call at once.
    pub max_retry_after: Option<f64>,
}

/// Circuit breaker settings over [`BreakerConfig::default`]; durations in seconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerOptions {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: Option<u32>,
    /// How long the circuit stays open before a probe call.
    pub reset_timeout: Option<f64>,
}

fn seconds(name: &str, value: Option<f64>, default: Duration) -> Result<Duration> {
    value.map_or(Ok(default), |secs| {
        Duration::try_from_secs_f64(secs).map_err(|e| Error::InvalidInput(format!("{name}: {e}")))
    })
}

impl LayerOptions {
    /// The options from their parts as a host passes them: each layer `true`, `false`, an
    /// object of settings or absent (on with its defaults).
    pub fn from_parts(
        retry: Option<Value>,
        breaker: Option<Value>,
        max_tokens: Option<u64>,
        max_usd: Option<f64>,
    ) -> Result<Self> {
        let layer = |value: Option<Value>| value.unwrap_or(Value::Bool(true));
        let options = serde_json::json!({
            "retry": layer(retry),
            "breaker": layer(breaker),
            "max_tokens": max_tokens,
            "max_usd": max_usd,
        });
        serde_json::from_value(options)
            .map_err(|e| Error::InvalidInput(format!("provider options: {e}")))
    }

    /// The retry policy, or `None` when retries are off.
    pub fn retry_policy(&self) -> Result<Option<RetryPolicy>> {
        let defaults = RetryPolicy::default();
        let settings = match &self.retry {
            Layer::Enabled(false) => return Ok(None),
            Layer::Enabled(true) => return Ok(Some(defaults)),
            Layer::Configured(settings) => settings,
        };
        Ok(Some(RetryPolicy {
            max_attempts: settings.max_attempts.unwrap_or(defaults.max_attempts),
            base_delay: seconds("retry.base_delay", settings.base_delay, defaults.base_delay)?,
            multiplier: settings.multiplier.unwrap_or(defaults.multiplier),
            max_delay: seconds("retry.max_delay", settings.max_delay, defaults.max_delay)?,
            jitter: settings.jitter.unwrap_or(defaults.jitter),
            max_retry_after: seconds(
                "retry.max_retry_after",
                settings.max_retry_after,
                defaults.max_retry_after,
            )?,
            ..defaults
        }))
    }

    /// The circuit breaker's configuration, or `None` when it is off.
    pub fn breaker_config(&self) -> Result<Option<BreakerConfig>> {
        let defaults = BreakerConfig::default();
        let settings = match &self.breaker {
            Layer::Enabled(false) => return Ok(None),
            Layer::Enabled(true) => return Ok(Some(defaults)),
            Layer::Configured(settings) => settings,
        };
        Ok(Some(BreakerConfig {
            failure_threshold: settings
                .failure_threshold
                .unwrap_or(defaults.failure_threshold),
            reset_timeout: seconds(
                "breaker.reset_timeout",
                settings.reset_timeout,
                defaults.reset_timeout,
            )?,
            ..defaults
        }))
    }

    /// `provider` metered into its budget (when one is set), behind the circuit breaker and
    /// retries (when on): retries see the breaker's refusals and stop.
    pub fn around(&self, provider: Arc<dyn Provider>) -> Result<Arc<dyn Provider>> {
        let mut provider = provider;
        if self.max_tokens.is_some() || self.max_usd.is_some() {
            let budget = Budget {
                max_tokens: self.max_tokens,
                max_usd: self.max_usd,
                time: None,
            };
            provider = provider.metered(&Meter::new(budget));
        }
        if let Some(config) = self.breaker_config()? {
            provider = provider.with_breaker(config);
        }
        if let Some(policy) = self.retry_policy()? {
            provider = provider.with_retry(policy);
        }
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(value: Value) -> std::result::Result<LayerOptions, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn layers_are_on_by_default_and_settings_override_defaults() {
        let defaults = options(serde_json::json!({})).unwrap();
        assert_eq!(
            defaults.retry_policy().unwrap(),
            Some(RetryPolicy::default())
        );
        assert!(defaults.breaker_config().unwrap().is_some());

        let set = options(serde_json::json!({
            "retry": {"max_attempts": 2, "base_delay": 0.01},
            "breaker": {"failure_threshold": 9},
        }))
        .unwrap();
        let policy = set.retry_policy().unwrap().unwrap();
        assert_eq!(policy.max_attempts, 2);
        assert_eq!(policy.base_delay, Duration::from_millis(10));
        assert_eq!(policy.multiplier, RetryPolicy::default().multiplier);
        assert_eq!(set.breaker_config().unwrap().unwrap().failure_threshold, 9);

        let off = options(serde_json::json!({"retry": false, "breaker": false})).unwrap();
        assert_eq!(off.retry_policy().unwrap(), None);
        assert!(off.breaker_config().unwrap().is_none());
    }

    #[test]
    fn parts_read_like_the_whole() {
        let options = LayerOptions::from_parts(
            Some(serde_json::json!({"max_attempts": 2})),
            None,
            Some(100),
            None,
        )
        .unwrap();
        assert_eq!(options.retry_policy().unwrap().unwrap().max_attempts, 2);
        assert!(options.breaker_config().unwrap().is_some());
        assert_eq!(options.max_tokens, Some(100));
        let wrong = LayerOptions::from_parts(None, Some(serde_json::json!({"x": 1})), None, None);
        assert!(
            matches!(wrong, Err(Error::InvalidInput(m)) if m.starts_with("provider options: breaker: unknown field `x`"))
        );
    }

    #[test]
    fn unknown_or_invalid_settings_are_named() {
        let unknown = options(serde_json::json!({"retry": {"attempts": 3}})).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `attempts`"),
            "{unknown}"
        );
        let wrong = options(serde_json::json!({"breaker": 3})).unwrap_err();
        assert!(
            wrong.to_string().contains("true, false or an object"),
            "{wrong}"
        );
        let top = options(serde_json::json!({"retries": true})).unwrap_err();
        assert!(top.to_string().contains("unknown field `retries`"), "{top}");
        let negative = options(serde_json::json!({"retry": {"base_delay": -1.0}})).unwrap();
        assert!(
            matches!(negative.retry_policy(), Err(Error::InvalidInput(m)) if m.starts_with("retry.base_delay"))
        );
    }
}
