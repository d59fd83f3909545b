//! Which units a supervisor started on demand brings back: `RUN/up/UNIT` for each unit someone
//! started and nobody stopped since (see [`super::Scope::wanted_up_dir`]), under a mark of the boot
//! they were made in, so marks left on disk by another boot are never taken for this one's.
//!
//! At boot (or as a container's PID 1) being enabled is what counts instead; `daemon::run`
//! chooses.

use super::daemon::Supervisor;

/// The file in `RUN/up/` that says during which boot its marks were made.
const BOOT_MARK: &str = ".boot";

/// This boot's identity (the kernel's random boot id).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

impl Supervisor {
    /// A user's runtime directory may live on disk (no `XDG_RUNTIME_DIR`), where a reboot
    /// does not empty it: marks made during another boot mean nothing now.
    pub(super) fn forget_wanted_up_of_an_earlier_boot(&self) {
        let dir = self.scope.wanted_up_dir();
        let recorded = std::fs::read_to_string(dir.join(BOOT_MARK)).unwrap_or_default();
        if dir.exists() && recorded != boot_id() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// Remembers that `keys` were asked to run (or to stop), for a supervisor started after
    /// this one (see [`super::Scope::wanted_up_dir`]).
    pub(super) fn set_wanted_up(&self, keys: &[String], up: bool) {
        let dir = self.scope.wanted_up_dir();
        if up && !dir.exists() {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(BOOT_MARK), boot_id());
        }
        for key in keys {
            if up {
                let _ = std::fs::write(dir.join(key), b"");
            } else {
                let _ = std::fs::remove_file(dir.join(key));
            }
        }
        let only_the_mark = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().all(|e| e.file_name() == BOOT_MARK))
            .unwrap_or(false);
        if !up && only_the_mark {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// On the way out: the marks stay for the next supervisor, under this boot's mark; with
    /// none left, the directory goes.
    pub(super) fn leave_wanted_up(&self) {
        let up = self.scope.wanted_up_dir();
        let _ = std::fs::remove_file(up.join(BOOT_MARK));
        if std::fs::remove_dir(&up).is_err() {
            // Marks stay for the next supervisor: put this boot's mark back.
            let _ = std::fs::write(up.join(BOOT_MARK), boot_id());
        }
    }
}
