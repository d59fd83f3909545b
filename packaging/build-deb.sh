#!/bin/sh
# svc-any itself as a .deb, made with dpkg-deb alone:
#
#   packaging/build-deb.sh                  static x86_64-unknown-linux-musl release build
#   packaging/build-deb.sh --glibc          glibc release build (Depends: libc6 of this host)
#   packaging/build-deb.sh --binary PATH    pack PATH as it is (the tests pack the binary
#                                           cargo built for them)
#   ... [--out DIR]                         where the .deb goes (default target/debian)
#   ... [--gzip]                            gzip instead of xz: larger, made in a second
#
# The static build needs no library of the target system, so one .deb installs on every
# Debian release (and Ubuntu); `rustup target add x86_64-unknown-linux-musl` once. Prints the
# path of the .deb.
set -eu
cd "$(dirname "$0")/.."

binary='' kind=musl out=target/debian compress=xz
while [ $# -gt 0 ]; do
    case $1 in
    --binary) binary=$2 kind=given; shift 2 ;;
    --glibc) kind=glibc; shift ;;
    --out) out=$2; shift 2 ;;
    --gzip) compress=gzip; shift ;;
    *) echo "usage: $0 [--glibc | --binary PATH] [--out DIR] [--gzip]" >&2; exit 2 ;;
    esac
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || { echo "$0: no version in Cargo.toml" >&2; exit 1; }
cargo_release() {
    # Stripped: the symbols are for a debugger, and a .deb should be small.
    cargo build --release --locked --config 'profile.release.strip="symbols"' "$@" >&2
}
case $kind in
musl)
    if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
        echo "$0: the musl target is missing: rustup target add x86_64-unknown-linux-musl (or pass --glibc)" >&2
        exit 1
    fi
    cargo_release --target x86_64-unknown-linux-musl
    binary=target/x86_64-unknown-linux-musl/release/svc-any ;;
glibc)
    cargo_release
    binary=target/release/svc-any ;;
esac
[ -x "$binary" ] || { echo "$0: $binary is not an executable" >&2; exit 1; }

# A binary linked against glibc must depend on this host's libc6 or later; a static one
# (ldd says "statically linked" or "not a dynamic executable") needs nothing.
depends=''
if ldd "$binary" 2>/dev/null | grep -q 'libc\.so'; then
    libc=$(dpkg-query -W -f='${Version}' libc6 2>/dev/null | cut -d- -f1)
    depends="Depends: libc6 (>= ${libc:-2.36})"
fi

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/doc/svc-any"
install -m 0755 "$binary" "$stage/usr/bin/svc-any"
# Symbols are for a debugger; a --binary from a debug build carries megabytes of them.
strip --strip-debug "$stage/usr/bin/svc-any" 2>/dev/null || true
gzip -9n <README.md >"$stage/usr/share/doc/svc-any/README.md.gz"
cat >"$stage/usr/share/doc/svc-any/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: svc-any

Files: *
License: MIT or Apache-2.0
 See https://opensource.org/licenses/MIT and https://www.apache.org/licenses/LICENSE-2.0
EOF
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
{
    echo "Package: svc-any"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: svc-any developers <svc-any@example.invalid>"
    echo "Installed-Size: $size"
    [ -z "$depends" ] || echo "$depends"
    echo "Section: admin"
    echo "Priority: optional"
    echo "Description: one service definition, every init system"
    echo " svc-any reads a small TOML definition of a service and writes the native"
    echo " definition for the init system that runs (a systemd unit, an OpenRC script,"
    echo " an LSB init script, a launchd plist), or runs the service under its own"
    echo " supervisor where none runs. Its hooks let a package's maintainer scripts"
    echo " install, start, restart and remove a service the same way on all of them."
} >"$stage/DEBIAN/control"
mkdir -p "$out"
deb="$out/svc-any_${version}_amd64.deb"
dpkg-deb --root-owner-group "-Z$compress" --build "$stage" "$deb" >/dev/null
echo "$deb"
