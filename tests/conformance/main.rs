//! One suite, every backend: the same scenarios, step for step, on real systemd, OpenRC and
//! sysvinit (each PID 1 of its own container, tests/harness/box.sh) and on the builtin
//! supervisor of this machine. A scenario (one module here each) knows no manager: it drives
//! svc-any through a `Host` and asks the backend's adapter (tests/common/backends/) whatever
//! only the manager itself can say. A backend is one adapter and one row of the table below;
//! every scenario becomes a test named `BACKEND::SCENARIO` (`cargo test --test conformance
//! openrc::`, or `-- ::restart_table`).
//!
//! Each test boots its own container (one to three seconds) or makes its own scope, so tests
//! run side by side and any one runs alone. Every outcome is polled for; nothing waits a fixed time.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod cells;
mod crash;
mod cycle;
mod expand;
mod fidelity;
mod group;
mod keeper;
mod parity;
mod safety;
mod secrets;

use common::backend::{self, Backend};
use common::backends;
use common::host::Host;

/// Runs `scenario` on a fresh host of `b`, unless this machine cannot have one (it says why).
fn live(b: &'static dyn Backend, scenario: &str, run: fn(&Host, &dyn Backend)) {
    let test = format!("{}::{scenario}", b.name());
    if let Some(host) = backend::boot(b, &test, &scenario.replace('_', "-")) {
        run(&host, b);
    }
}

/// The scenarios, once: each row of `backends!` gets every one.
macro_rules! scenarios {
    ($b:expr) => {
        live! { $b;
            lifecycle => cycle::lifecycle,
            health_wait => parity::health_wait,
            clean_stop => parity::clean_stop,
            restart_table => parity::restart_table,
            probe => fidelity::probe,
            probe_expand => expand::probe,
            generated => fidelity::generated,
            privilege => safety::privilege,
            flapper => safety::flapper,
            group => group::openim,
            secrets => secrets::hidden,
            keeper_killed => keeper::killed,
        }
        offline! { $b;
            bad_input => bad_input::refused,
            crash_points => crash::converge,
        }
    };
}

macro_rules! live {
    ($b:expr; $($test:ident => $scenario:path,)*) => {$(
        #[test]
        fn $test() {
            crate::live($b, stringify!($test), $scenario)
        }
    )*};
}

/// Scenarios on `install --root` trees: no manager runs, nothing to boot.
macro_rules! offline {
    ($b:expr; $($test:ident => $scenario:path,)*) => {$(
        #[test]
        fn $test() {
            $scenario($b)
        }
    )*};
}

/// The table: `module => adapter`, one row per backend; the module names its tests.
macro_rules! backends {
    ($($module:ident => $adapter:expr,)*) => {
        /// Every row, for the scenarios that look across backends.
        const BACKENDS: &[&dyn Backend] = &[$(&$adapter),*];
        $(mod $module {
            use super::*;
            scenarios!(&$adapter);
        })*
    };
}

backends! {
    systemd => backends::systemd::Systemd,
    openrc => backends::openrc::Openrc,
    sysv => backends::sysv::Sysv,
    builtin => backends::builtin::Builtin,
    runit => backends::runit::Runit,
    daemontools => backends::daemontools::Daemontools,
    s6 => backends::s6::S6,
    supervisord => backends::supervisord::Supervisord,
}
