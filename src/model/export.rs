//! The `[export]` table of a service: what only a container needs (`svc-any export kubernetes`
//! and `svc-any export compose`). It is not a service-manager key: systemd, OpenRC, SysV,
//! launchd and the builtin supervisor ignore it.
//!
//! ```toml
//! [services.api.export]
//! image = "registry.example.com/api:1.4"     # required by export
//! ports = [8080]                             # container ports; a Kubernetes Service exposes them
//! replicas = 2                               # Deployment replicas (compose: deploy.replicas)
//! namespace = "prod"                         # Kubernetes namespace
//! liveness = true                            # also a livenessProbe from [health] (default false)
//! wait_image = "busybox:1.36"                # image of the init container that waits for `requires`
//! resources = { requests = { cpu = "100m", memory = "64Mi" }, limits = { cpu = "1", memory = "256Mi" } }
//! ```

use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The validated `[export]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The container image; export refuses a service without one.
    pub image: Option<String>,
    /// Container ports, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    pub replicas: Option<u32>,
    pub namespace: Option<String>,
    /// A livenessProbe (compose: the healthcheck restarts nothing either way) from `[health]`.
    #[serde(default)]
    pub liveness: bool,
    /// The image of the init container that waits for a `requires` dependency; it needs `sh`,
    /// `nc` and `wget` (busybox has all three).
    pub wait_image: Option<String>,
    #[serde(default)]
    pub resources: Resources,
}

/// Kubernetes-style resource amounts: cpu (`"500m"`, `"2"`) and memory (`"256Mi"`, `"1G"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub requests: Amounts,
    pub limits: Amounts,
}

/// The default image of the init container that waits for a dependency.
pub const DEFAULT_WAIT_IMAGE: &str = "busybox:1.36";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    image: Option<Spanned<String>>,
    ports: Option<Spanned<Vec<Spanned<i64>>>>,
    replicas: Option<Spanned<i64>>,
    namespace: Option<Spanned<String>>,
    liveness: Option<Spanned<bool>>,
    wait_image: Option<Spanned<String>>,
    resources: Option<RawResources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    requests: Option<RawAmounts>,
    limits: Option<RawAmounts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmounts {
    cpu: Option<Spanned<toml::Value>>,
    memory: Option<Spanned<toml::Value>>,
}

/// A complaint about one value of the table: where it is, which key, what is wrong, the fix.
#[derive(Debug)]
pub struct ExportError {
    pub span: Range<usize>,
    pub key: String,
    pub message: String,
    pub hint: &'static str,
}

fn err(span: Range<usize>, key: &str, message: String, hint: &'static str) -> ExportError {
    ExportError {
        span,
        key: format!("export.{key}"),
        message,
        hint,
    }
}

impl RawExport {
    /// Checks every value; nothing about the services around it (that is export's job).
    pub fn validate(self) -> Result<Export, ExportError> {
        let image = image_key(self.image, "image")?;
        let wait_image = image_key(self.wait_image, "wait_image")?;
        let mut ports = Vec::new();
        if let Some(list) = self.ports {
            for p in list.into_inner() {
                let port = u16::try_from(*p.get_ref()).ok().filter(|n| *n > 0);
                let Some(port) = port else {
                    return Err(err(
                        p.span(),
                        "ports",
                        format!("{} is not a port", p.get_ref()),
                        "ports are numbers from 1 to 65535",
                    ));
                };
                if ports.contains(&port) {
                    return Err(err(
                        p.span(),
                        "ports",
                        format!("port {port} is listed twice"),
                        "list each port once",
                    ));
                }
                ports.push(port);
            }
        }
        let replicas = match self.replicas {
            None => None,
            Some(r) => Some(
                u32::try_from(*r.get_ref())
                    .ok()
                    .filter(|n| *n <= 10_000)
                    .ok_or_else(|| {
                        err(
                            r.span(),
                            "replicas",
                            format!("{} is not a number of replicas", r.get_ref()),
                            "a count from 0 to 10000",
                        )
                    })?,
            ),
        };
        let namespace = match self.namespace {
            None => None,
            Some(n) => {
                if !is_dns_label(n.get_ref()) {
                    return Err(err(
                        n.span(),
                        "namespace",
                        format!("`{}` is not a Kubernetes namespace name", n.get_ref().escape_debug()),
                        "a namespace is 1-63 lower-case letters, digits and -, starting and ending with a letter or digit",
                    ));
                }
                Some(n.into_inner())
            }
        };
        let resources = match self.resources {
            None => Resources::default(),
            Some(r) => Resources {
                requests: amounts(r.requests, "resources.requests")?,
                limits: amounts(r.limits, "resources.limits")?,
            },
        };
        Ok(Export {
            image,
            ports,
            replicas,
            namespace,
            liveness: self.liveness.is_some_and(|l| *l.get_ref()),
            wait_image,
            resources,
        })
    }
}

fn image_key(v: Option<Spanned<String>>, key: &str) -> Result<Option<String>, ExportError> {
    let Some(v) = v else { return Ok(None) };
    let image = v.get_ref();
    if image.is_empty()
        || image.len() > 4096
        || image.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(err(
            v.span(),
            key,
            format!("`{}` is not an image reference", image.escape_debug()),
            "name the image as a container engine pulls it, e.g. \"registry.example.com/app:1.4\"",
        ));
    }
    Ok(Some(v.into_inner()))
}

fn amounts(raw: Option<RawAmounts>, key: &str) -> Result<Amounts, ExportError> {
    let Some(raw) = raw else {
        return Ok(Amounts::default());
    };
    let one = |v: Option<Spanned<toml::Value>>, name: &str, check: fn(&str) -> bool, hint| {
        let Some(v) = v else { return Ok(None) };
        let text = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) if *n >= 0 => n.to_string(),
            toml::Value::Float(f) if *f >= 0.0 && f.is_finite() => f.to_string(),
            _ => String::new(),
        };
        if check(&text) {
            Ok(Some(text))
        } else {
            Err(err(
                v.span(),
                &format!("{key}.{name}"),
                format!("`{}` is not a {name} amount", v.get_ref()),
                hint,
            ))
        }
    };
    Ok(Amounts {
        cpu: one(
            raw.cpu,
            "cpu",
            is_cpu,
            "cpu is a number of cores, \"0.5\" or \"500m\"",
        )?,
        memory: one(
            raw.memory,
            "memory",
            is_memory,
            "memory is bytes with an optional unit: \"256Mi\", \"1Gi\", \"500M\"",
        )?,
    })
}

/// A non-negative decimal: `1`, `0.5`, `.5`.
fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && !(s.contains('.') && frac.is_empty())
}

/// Kubernetes cpu quantity: cores, or millicores with `m`.
pub fn is_cpu(s: &str) -> bool {
    let number = s.strip_suffix('m').unwrap_or(s);
    is_decimal(number) && !(s.ends_with('m') && number.contains('.'))
}

/// The binary and decimal suffixes of a Kubernetes memory quantity, with their factors.
pub const MEMORY_UNITS: &[(&str, u64)] = &[
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
];

/// Kubernetes memory quantity: bytes with an optional unit (whole numbers only).
pub fn is_memory(s: &str) -> bool {
    let number = MEMORY_UNITS
        .iter()
        .find_map(|(u, _)| s.strip_suffix(u))
        .unwrap_or(s);
    !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())
}

/// A DNS-1123 label: what Kubernetes takes as a namespace, Service or container name.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["1", "0.5", ".5", "500m", "2"] {
            assert!(is_cpu(ok), "{ok}");
        }
        for bad in ["", "m", "1.5m", "-1", "1e3", "1.", "a"] {
            assert!(!is_cpu(bad), "{bad}");
        }
        for ok in ["64Mi", "1Gi", "500M", "1024", "2k"] {
            assert!(is_memory(ok), "{ok}");
        }
        for bad in ["", "Mi", "1.5Gi", "64MB", "-1"] {
            assert!(!is_memory(bad), "{bad}");
        }
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("rpc-user"));
        for bad in ["", "Api", "a_b", "-a", "a-", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
