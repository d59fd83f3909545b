//! The environment-file dialect: `KEY=VALUE` lines as svc-any reads them for every backend
//! that does not read them itself (svc-any's supervisor, exports): systemd's EnvironmentFile=
//! reading, minus its escapes. `#` and `;` start comments, `export ` is allowed before a key,
//! and one pair of matching quotes around a value is taken off.

/// The assignments of an environment file's text, in order.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            out.push((k.trim().to_string(), v.to_string()));
        }
    }
    out
}
