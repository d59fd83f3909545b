//! `svc-any hook snippets deb|rpm NAME...`: the maintainer-script fragments a packager pastes,
//! as debhelper generates its autoscripts. Each calls svc-any's hook with the script's own
//! arguments, and does nothing where svc-any is not installed, so the package never fails for
//! its absence. Only the postinst (`%post`) fails the package, and only for the one thing that
//! must: a definition that does not validate.

use anyhow::Result;

use crate::dialect::escape::sh;
use crate::model::error::bad;

/// One fragment: the script (`postinst`, `%post`...) it goes in, and its text.
pub struct Snippet {
    pub script: &'static str,
    pub text: String,
}

/// The package formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Deb,
    Rpm,
}

/// The fragments for `names` (defined in `file`, else `/etc/svc-any/NAME.toml`).
pub fn snippets(format: Format, names: &[String], file: Option<&str>) -> Result<Vec<Snippet>> {
    let mut words: Vec<String> = Vec::new();
    if let Some(f) = file {
        let quoted = sh::quote(f).map_err(|why| bad(format!("this path {why}")).key("--file"))?;
        words.push(format!("-f {quoted}"));
    }
    words.extend(names.iter().cloned());
    let target = words.join(" ");
    let list = names.join(" ");
    let guard = |script: &str, body: &str| {
        format!(
            "# svc-any ({list}): {script}\n\
             if command -v svc-any >/dev/null 2>&1; then\n\
             \t{body}\n\
             fi\n"
        )
    };
    Ok(match format {
        Format::Deb => vec![
            Snippet {
                script: "postinst",
                text: guard(
                    "install, enable, start; on upgrade, restart if running and changed",
                    &format!("svc-any hook deb postinst {target} -- \"$@\" || exit 1"),
                ),
            },
            Snippet {
                script: "prerm",
                text: guard(
                    "stop on remove",
                    &format!("svc-any hook deb prerm {list} -- \"$@\" || true"),
                ),
            },
            Snippet {
                script: "postrm",
                text: guard(
                    "off at boot on remove; on purge, everything svc-any wrote goes",
                    &format!("svc-any hook deb postrm {list} -- \"$@\" || true"),
                ),
            },
        ],
        Format::Rpm => vec![
            Snippet {
                script: "%post",
                text: guard(
                    "$1 = 1: install, enable, start; 2 or more: restart if running and changed",
                    &format!("svc-any hook rpm post {target} -- \"$1\" || exit 1"),
                ),
            },
            Snippet {
                script: "%preun",
                text: guard(
                    "$1 = 0: stop",
                    &format!("svc-any hook rpm preun {list} -- \"$1\" || :"),
                ),
            },
            Snippet {
                script: "%postun",
                text: guard(
                    "$1 = 0: everything svc-any wrote goes",
                    &format!("svc-any hook rpm postun {list} -- \"$1\" || :"),
                ),
            },
        ],
    })
}

/// What `hook snippets` prints: every fragment under its script's name (an RPM spec's
/// section header, or a comment naming the Debian maintainer script), or one fragment alone.
pub fn print(
    format: Format,
    names: &[String],
    file: Option<&str>,
    only: Option<&str>,
) -> Result<()> {
    let all = snippets(format, names, file)?;
    if let Some(only) = only {
        let wanted = only.trim_start_matches('%');
        let Some(s) = all
            .iter()
            .find(|s| s.script.trim_start_matches('%') == wanted)
        else {
            return Err(bad(format!("no `{only}` script for this format"))
                .key("--script")
                .hint(format!(
                    "one of: {}",
                    all.iter().map(|s| s.script).collect::<Vec<_>>().join(", ")
                ))
                .into());
        };
        print!("{}", s.text);
        return Ok(());
    }
    for (i, s) in all.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match format {
            Format::Deb => println!("### debian/{}", s.script),
            Format::Rpm => println!("{}", s.script),
        }
        print!("{}", s.text);
    }
    Ok(())
}
