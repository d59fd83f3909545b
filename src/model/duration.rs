//! Durations (`"1s"`, `"500ms"`) and sizes (`"10M"`) as definitions write them.

use std::time::Duration;

/// Parses a humantime duration that carries a unit; a bare number is ambiguous and refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') && !trimmed.is_empty() {
        return Err(format!("`{trimmed}` has no unit"));
    }
    humantime::parse_duration(trimmed)
        .map_err(|e| format!("`{}` is not a duration ({e})", text.escape_debug()))
}

/// Seconds with up to millisecond precision, as managers want them: `1`, `0.5`, `0`.
pub fn seconds_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
            .trim_end_matches('0')
            .to_string()
    }
}

/// `"10M"`, `"512K"`, `"1G"`, `"100"` (bytes) or an integer number of bytes.
pub fn parse_size(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::Integer(n) if *n > 0 => Ok(*n as u64),
        toml::Value::String(s) => {
            let t = s.trim();
            let (digits, unit) =
                t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
            let n: u64 = digits.parse().map_err(|_| format!("`{t}` is not a size"))?;
            let factor = match unit.trim().to_ascii_uppercase().as_str() {
                "" | "B" => 1,
                "K" | "KB" | "KIB" => 1 << 10,
                "M" | "MB" | "MIB" => 1 << 20,
                "G" | "GB" | "GIB" => 1 << 30,
                other => return Err(format!("unknown size unit `{other}`")),
            };
            if n == 0 {
                return Err("a size of 0".into());
            }
            Ok(n * factor)
        }
        other => Err(format!("`{other}` is not a size")),
    }
}

/// Serde glue: durations are stored as the same text a definition uses.
pub mod serde_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn seconds_for_managers() {
        assert_eq!(seconds_text(Duration::from_secs(10)), "10");
        assert_eq!(seconds_text(Duration::from_millis(1500)), "1.5");
        assert_eq!(seconds_text(Duration::from_millis(250)), "0.25");
        assert_eq!(seconds_text(Duration::ZERO), "0");
    }

    #[test]
    fn sizes() {
        assert_eq!(
            parse_size(&toml::Value::String("10M".into())).unwrap(),
            10 << 20
        );
        assert_eq!(
            parse_size(&toml::Value::String("512k".into())).unwrap(),
            512 << 10
        );
        assert_eq!(parse_size(&toml::Value::Integer(4096)).unwrap(), 4096);
        assert!(parse_size(&toml::Value::String("10X".into())).is_err());
        assert!(parse_size(&toml::Value::String("0".into())).is_err());
    }
}
