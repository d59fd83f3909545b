//! Running a manager's own tools (`systemctl`, `journalctl`), with errors that say what ran and
//! what it answered.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Finds a manager tool on PATH (and in the sbin directories a non-login root shell may lack).
pub fn find_tool(name: &str) -> Result<PathBuf> {
    if let Ok(path) = which::which(name) {
        return Ok(path);
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let candidate = PathBuf::from(dir).join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("`{name}` was not found on PATH; is this backend's manager installed?")
}

/// The svc-any program itself, which the builtin supervisor and SysV scripts run: this
/// process when it is svc-any, else `$SVC_ANY_BIN`, else `svc-any` on PATH. A program that
/// uses the crate as a library is not svc-any, and cannot be the supervisor.
pub fn svc_any_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running program")?;
    let is_svc_any = exe
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "svc-any" || n.starts_with("svc-any-") || n.starts_with("svc-any."));
    if is_svc_any {
        return Ok(exe);
    }
    if let Some(bin) = std::env::var_os("SVC_ANY_BIN").map(PathBuf::from) {
        if bin.is_absolute() && bin.is_file() {
            return Ok(bin);
        }
        bail!(
            "SVC_ANY_BIN={} is not an absolute path to a file",
            bin.display()
        );
    }
    which::which("svc-any").map_err(|_| {
        anyhow::anyhow!(
            "the builtin supervisor and SysV scripts run the svc-any program, which is not on PATH; \
             install it (cargo install svc-any) or set SVC_ANY_BIN to its absolute path"
        )
    })
}

/// Builds a command for a tool found with [`find_tool`].
pub fn tool(name: &str) -> Result<Command> {
    Ok(Command::new(find_tool(name)?))
}

pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Runs `cmd`, returns its stdout; a non-zero exit is an error carrying stderr.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", describe(cmd)))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            stderr.trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` with the terminal attached (for `logs -f`); returns its exit code.
pub fn interactive(cmd: &mut Command) -> Result<i32> {
    let status = cmd
        .status()
        .with_context(|| format!("running {}", describe(cmd)))?;
    Ok(status.code().unwrap_or(1))
}

/// Whether `pid`, recorded by a supervisor as its child, does not run `program` yet: its
/// command line is still a `./run` script or one of `before_program` (the supervisor's own
/// fork, the tools a script execs through), unless that is the program itself, or it has no
/// command line for the moment (an exec under way). A supervisor records the pid at `fork`, so
/// a start that trusted it at once would report a process that never ran the program. A pid
/// that is gone (or a zombie) is not "not yet": the status says what happened.
pub fn not_yet_the_program(pid: u32, program: &str, before_program: &[&str]) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    if cmdline.is_empty() {
        // Read in the middle of an exec (seen: a flapper's start returned before ./run had
        // even started), or of a zombie, which is gone as far as a start is concerned.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        return !matches!(state, Some("Z" | "X") | None);
    }
    let base_name = |arg: &[u8]| -> Vec<u8> {
        arg.rsplit(|b| *b == b'/')
            .next()
            .unwrap_or_default()
            .to_vec()
    };
    let first = base_name(cmdline.split(|b| *b == 0).next().unwrap_or_default());
    cmdline.split(|b| *b == 0).any(|a| a == b"./run")
        || (before_program
            .iter()
            .any(|t| t.as_bytes() == first.as_slice())
            && first != base_name(program.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_is_gone_and_a_tool_before_the_program_is_not_yet_it() {
        // Exits at once and is not reaped until wait: a zombie, with an empty command line.
        let mut zombie = Command::new("/bin/true").spawn().unwrap();
        let pid = zombie.id();
        let dead = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
        });
        assert!(dead, "no zombie to look at");
        assert!(!not_yet_the_program(pid, "/usr/bin/myd", &["supervise"]));
        zombie.wait().unwrap();

        // spawn returns once exec is past its point of no return, which is before the new
        // image has its arguments: the command line reads empty for that moment, and the
        // process counts as not yet anything.
        let mut tool = Command::new("/bin/sleep").arg("5").spawn().unwrap();
        let cmdline = format!("/proc/{}/cmdline", tool.id());
        assert!((0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            std::fs::read(&cmdline).is_ok_and(|c| !c.is_empty())
        }));
        assert!(not_yet_the_program(tool.id(), "/usr/bin/myd", &["sleep"]));
        assert!(!not_yet_the_program(tool.id(), "/bin/sleep", &["sleep"]));
        tool.kill().unwrap();
        tool.wait().unwrap();
    }
}
