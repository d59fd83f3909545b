//! A program that installs, starts, waits for and uninstalls itself as a service through the
//! svc-any library, on whatever init system runs (svc-any's own supervisor where none does).
//!
//!     cargo run --example self_service            # as root: a system service
//!     cargo run --example self_service -- --user  # the invoking user's own
//!
//! The service it installs is this same program with `--serve`: it listens on a port until it
//! is stopped. `SVC_ANY_BACKEND` picks a backend instead of the detected one.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use svc_any::{Level, Manager, State};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        return serve();
    }
    let level = if args.iter().any(|a| a == "--user") {
        Level::User
    } else {
        Level::System
    };
    let manager = match std::env::var("SVC_ANY_BACKEND") {
        Ok(name) => Manager::with_backend(level, &name)?,
        Err(_) => Manager::detect(level)?,
    };
    println!("backend: {}", manager.backend_name());

    let me = std::env::current_exe()?;
    let me = me.to_str().expect("a UTF-8 path");
    let service = svc_any::quick_definition("self-service", &[me, "--serve"], level)?;
    manager.install(&[service])?;
    manager.start(&["self-service"], Some(Duration::from_secs(20)))?;
    let running = manager.status(&["self-service"])?;
    for s in &running {
        println!("{}: {} (pid {:?})", s.name, s.state.as_str(), s.pid);
    }
    manager.uninstall(&["self-service"])?;
    let gone = manager.status(&["self-service"])?;
    println!("after uninstall: {}", gone[0].state.as_str());
    if running.iter().all(|s| s.state == State::Running) && gone[0].state == State::NotInstalled {
        Ok(())
    } else {
        anyhow::bail!("the service did not run, or outlived its uninstall")
    }
}

/// The service itself: accept connections and say hello, until stopped.
fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    for stream in listener.incoming() {
        let _ = stream?.write_all(b"hello from self-service\n");
    }
    Ok(())
}
