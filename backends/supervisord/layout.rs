//! Where supervisord's files go: the include directory and suffix read from supervisord's own
//! configuration (`[include] files=`), and the run scripts' directory beside it.

use std::path::{Path, PathBuf};

use crate::system::host::Ctx;

/// Where supervisord looks for its configuration, in its own order (Debian's first).
const CONFIGS: &[&str] = &[
    "/etc/supervisor/supervisord.conf",
    "/etc/supervisord.conf",
    "/etc/supervisor.conf",
];
/// Debian's `[include]`, when no configuration can be read (an image tree being built).
const DEFAULT_INCLUDE: &str = "/etc/supervisor/conf.d/*.conf";

/// Where the program files go: the directory and suffix of the first `[include] files=`
/// pattern of the target's configuration that has the `DIR/*SUFFIX` shape.
pub(super) fn include(ctx: &Ctx) -> (PathBuf, String) {
    let parse = |pattern: &str, base: &Path| -> Option<(PathBuf, String)> {
        let path = base.join(pattern);
        let dir = path.parent()?.to_path_buf();
        let file = path.file_name()?.to_str()?;
        let suffix = file.strip_prefix('*')?;
        let plain = |s: &str| !s.contains(['*', '?', '[', '%']);
        (plain(suffix) && plain(&dir.to_string_lossy())).then(|| (dir, suffix.to_string()))
    };
    for conf in CONFIGS {
        let Ok(text) = std::fs::read_to_string(ctx.on_target(Path::new(conf))) else {
            continue;
        };
        let base = Path::new(conf).parent().unwrap_or(Path::new("/"));
        if let Some(found) = include_files(&text)
            .iter()
            .find_map(|pattern| parse(pattern, base))
        {
            return found;
        }
        break;
    }
    parse(DEFAULT_INCLUDE, Path::new("/")).expect("the default include has the shape")
}

/// The patterns of `[include] files=` in a supervisord configuration.
fn include_files(text: &str) -> Vec<String> {
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != "include" {
            continue;
        }
        if let Some((key, value)) = line.split_once(['=', ':']) {
            if key.trim() == "files" {
                // An inline comment needs white space before it.
                let value = value
                    .split_whitespace()
                    .take_while(|w| !w.starts_with([';', '#']))
                    .map(String::from)
                    .collect();
                return value;
            }
        }
    }
    Vec::new()
}

/// Where the run scripts live: `svc-any/` beside the include directory in supervisor's own
/// directory (Debian: `/etc/supervisor/svc-any`), `supervisord-svc-any/` where the include
/// directory sits in a shared one (RHEL's `/etc/supervisord.d`: `/etc/supervisord-svc-any`).
pub(super) fn script_dir(include_dir: &Path) -> PathBuf {
    let parent = include_dir.parent().unwrap_or(Path::new("/etc"));
    let own = parent
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("supervisor"));
    parent.join(if own {
        "svc-any"
    } else {
        "supervisord-svc-any"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_scripts_go_beside_the_include_directory() {
        assert_eq!(
            script_dir(Path::new("/etc/supervisor/conf.d")),
            Path::new("/etc/supervisor/svc-any")
        );
        assert_eq!(
            script_dir(Path::new("/etc/supervisord.d")),
            Path::new("/etc/supervisord-svc-any")
        );
    }

    #[test]
    fn include_patterns_are_read_with_their_comments_cut() {
        let conf = "[supervisord]\nlogfile=/x\n\n[include]\nfiles = /etc/supervisor/conf.d/*.conf ; the programs\n";
        assert_eq!(include_files(conf), ["/etc/supervisor/conf.d/*.conf"]);
        let conf = "[include]\nfiles=a/*.ini b/*.conf\n";
        assert_eq!(include_files(conf), ["a/*.ini", "b/*.conf"]);
        assert!(include_files("[unix_http_server]\nfiles=x\n").is_empty());
    }
}
