//! Does a user or group exist on the target system?
//!
//! On a live host the answer comes from NSS (getpwnam/getgrnam), which sees LDAP and the like.
//! For an image built with `--root DIR` it comes from DIR's own passwd and group files: the build
//! host's accounts say nothing about the image's.

use std::path::PathBuf;

use crate::model::spec::AccountDb;

#[derive(Debug, Clone)]
pub enum Accounts {
    /// Ask this host's NSS.
    Host,
    /// Read `ROOT/etc/passwd` and `ROOT/etc/group`.
    Tree(PathBuf),
}

impl AccountDb for Accounts {
    fn user_exists(&self, name: &str) -> bool {
        if name.chars().all(|c| c.is_ascii_digit()) {
            return true;
        }
        match self {
            Accounts::Host => matches!(nix::unistd::User::from_name(name), Ok(Some(_))),
            Accounts::Tree(root) => db_has(&root.join("etc/passwd"), name),
        }
    }

    fn group_exists(&self, name: &str) -> bool {
        if name.chars().all(|c| c.is_ascii_digit()) {
            return true;
        }
        match self {
            Accounts::Host => matches!(nix::unistd::Group::from_name(name), Ok(Some(_))),
            Accounts::Tree(root) => db_has(&root.join("etc/group"), name),
        }
    }
}

/// A tree without the file cannot be checked: accept rather than refuse a valid image build.
fn db_has(file: &std::path::Path, name: &str) -> bool {
    match std::fs::read_to_string(file) {
        Ok(text) => text.lines().any(|l| l.split(':').next() == Some(name)),
        Err(_) => true,
    }
}
