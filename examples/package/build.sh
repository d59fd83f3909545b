#!/bin/sh
# Builds the example package with dpkg-deb alone (no debhelper, no source package):
#
#   examples/package/build.sh VERSION OUT.deb
#
# The maintainer scripts in DEBIAN/ call svc-any's hooks; their svc-any part is what
# `svc-any hook snippets deb pkdemo` prints (tests/packaging.rs checks they still match).
set -eu
[ $# -eq 2 ] || { echo "usage: $0 VERSION OUT.deb" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
version=$1 out=$2
stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/lib/pkdemo" "$stage/etc/svc-any"
install -m 0755 "$here/pkdemo" "$stage/usr/lib/pkdemo/pkdemo"
install -m 0644 "$here/pkdemo.toml" "$stage/etc/svc-any/pkdemo.toml"
sed "s/@VERSION@/$version/" "$here/DEBIAN/control" >"$stage/DEBIAN/control"
install -m 0644 "$here/DEBIAN/conffiles" "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/DEBIAN/$script" "$stage/DEBIAN/$script"
done
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$out" >/dev/null
