//! A duration as users write it in the config: whole seconds (`30`) or a number with a unit
//! (`500ms`, `30s`, `2m`, `1h`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number before the unit.
    #[error("`{0}` is not a duration: expected a number such as 30, 30s, 500ms, 2m or 1h")]
    NotANumber(String),
    /// A unit other than `ms`, `s`, `m` (`min`) and `h`.
    #[error("unknown duration unit `{unit}` in `{text}`: use ms, s, m or h")]
    Unit {
        /// The unit as written.
        unit: String,
        /// The whole duration.
        text: String,
    },
    /// More milliseconds than 64 bits hold.
    #[error("duration `{0}` is too large")]
    TooLarge(String),
}

/// A config duration; wraps [`std::time::Duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// The wrapped standard duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// Parses `30`, `30s`, `500ms`, `2m` or `1h`.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let value: u64 = digits
            .parse()
            .map_err(|_| DurationError::NotANumber(text.to_owned()))?;
        let millis = match unit.trim() {
            "" | "s" => value.checked_mul(1000),
            "ms" => Some(value),
            "m" | "min" => value.checked_mul(60_000),
            "h" => value.checked_mul(3_600_000),
            other => {
                return Err(DurationError::Unit {
                    unit: other.to_owned(),
                    text: text.to_owned(),
                });
            }
        }
        .ok_or_else(|| DurationError::TooLarge(text.to_owned()))?;
        Ok(Duration(std::time::Duration::from_millis(millis)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30, 30s, 500ms, 2m or 1h")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Whole seconds, or a number with a unit: 500ms, 30s, 2m, 1h.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+(ms|s|m|min|h)?$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Duration::parse("30").unwrap(), Duration::from_secs(30));
        assert_eq!(Duration::parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(Duration::parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(Duration::parse("500ms").unwrap().get().as_millis(), 500);
        assert_eq!(
            Duration::parse("5 fortnights"),
            Err(DurationError::Unit {
                unit: "fortnights".into(),
                text: "5 fortnights".into()
            })
        );
        assert_eq!(
            Duration::parse("5 fortnights").unwrap_err().to_string(),
            "unknown duration unit `fortnights` in `5 fortnights`: use ms, s, m or h"
        );
        assert_eq!(
            Duration::parse("s"),
            Err(DurationError::NotANumber("s".into()))
        );
        assert_eq!(
            Duration::parse("99999999999999999h")
                .unwrap_err()
                .to_string(),
            "duration `99999999999999999h` is too large"
        );
    }
}
