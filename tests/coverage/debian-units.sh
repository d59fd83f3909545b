#!/usr/bin/env bash
# debian-units.sh - how many of the systemd units Debian's server packages ship `svc-any import`
# carries without loss, and how many of those need no [systemd] table (fully portable).
#
#   tests/coverage/debian-units.sh [SVC_ANY_BINARY]
#
# Downloads the packages with `apt-get download` (no install; needs Debian's package lists:
# run `apt-get update` once), extracts their .service files from /lib/systemd/system and
# /usr/lib/systemd/system (alias links skipped), imports each, and prints one line per unit,
# what blocks the refused ones, which settings the [systemd] tables carry, and the totals.
# Work files go to ${SVC_ANY_COVERAGE_DIR:-/tmp/svc-any-coverage}; downloads are kept there.
set -u

BIN=${1:-$(dirname "$0")/../../target/debug/svc-any}
WORK=${SVC_ANY_COVERAGE_DIR:-/tmp/svc-any-coverage}
[ -x "$BIN" ] || { echo "debian-units.sh: no svc-any at $BIN (cargo build first)" >&2; exit 2; }

# Server packages of Debian 12 that ship a long-running daemon's unit (the package that holds
# the unit: nginx's is in nginx-common, PostgreSQL's in postgresql-common, CUPS's in cups-daemon).
PACKAGES="nginx-common openssh-server redis-server memcached cron postgresql-common
mariadb-server haproxy chrony rsyslog bind9 apache2 dovecot-core postfix squid unbound
varnish prometheus-node-exporter fail2ban ntpsec smartmontools nfs-kernel-server samba
cups-daemon at exim4-base lighttpd mosquitto rabbitmq-server openvpn isc-dhcp-server dnsmasq
vsftpd proftpd-core slapd freeradius nut-server snmpd lldpd keepalived conntrackd ulogd2
auditd acpid irqbalance rsync tftpd-hpa php8.2-fpm prometheus zabbix-agent monit munin-node
collectd-core nagios-nrpe-server avahi-daemon minidlna transmission-daemon tor privoxy
pdns-server knot nsd coturn prosody postgrey opendkim clamav-daemon clamav-freshclam
apcupsd mdadm containerd libvirt-daemon-system qemu-guest-agent sssd-common nslcd
uwsgi-core"

mkdir -p "$WORK/debs" "$WORK/tree" || exit 1
missing=()
for p in $PACKAGES; do
    if ! ls "$WORK/debs/${p}_"*.deb >/dev/null 2>&1; then
        (cd "$WORK/debs" && apt-get download -q "$p" >/dev/null 2>&1) || missing+=("$p")
    fi
done
rm -rf "$WORK/tree" && mkdir -p "$WORK/tree"
for deb in "$WORK"/debs/*.deb; do
    pkg=$(basename "$deb" | cut -d_ -f1)
    mkdir -p "$WORK/tree/$pkg"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/tree/$pkg" --wildcards \
        './lib/systemd/system/*.service' './usr/lib/systemd/system/*.service' 2>/dev/null
done

total=0 lossless=0 portable=0 templated=0
# Of the fully portable units, how many each other backend carries as they are (render exit 0).
OTHERS="openrc sysv builtin"
declare -A carried
for b in $OTHERS; do carried[$b]=0; done
: >"$WORK/refused.txt"
: >"$WORK/systemd-keys.txt"
for unit in $(find "$WORK/tree" -path '*/systemd/system/*.service' -type f | sort); do
    pkg=$(echo "${unit#"$WORK/tree/"}" | cut -d/ -f1)
    name=$(basename "$unit")
    total=$((total + 1))
    if out=$("$BIN" import "$unit" 2>"$WORK/err"); then
        lossless=$((lossless + 1))
        keys=$(printf '%s\n' "$out" | python3 -c '
import sys, tomllib
d = tomllib.loads(sys.stdin.read()).get("systemd", {})
keys = [k for k in d if k not in ("unit", "install")]
keys += ["unit." + k for k in d.get("unit", {})] + ["install." + k for k in d.get("install", {})]
print(" ".join(keys))')
        if [ -z "$keys" ]; then
            portable=$((portable + 1))
            printf '%s\n' "$out" >"$WORK/definition.toml"
            on=""
            for b in $OTHERS; do
                if "$BIN" --backend "$b" render -f "$WORK/definition.toml" >/dev/null 2>&1; then
                    carried[$b]=$((carried[$b] + 1))
                    on="$on $b"
                fi
            done
            echo "portable  $pkg $name  (also:${on:- none})"
        else
            echo "lossless  $pkg $name  [systemd]: $keys"
            printf '%s\n' $keys >>"$WORK/systemd-keys.txt"
        fi
        continue
    fi
    # A template carries no instance names: given one, does it import without loss?
    case $name in
    *@.service)
        if "$BIN" import --instances main "$unit" >/dev/null 2>&1; then
            templated=$((templated + 1))
            echo "template  $pkg $name  (lossless with --instances)"
            continue
        fi ;;
    esac
    why=$(sed -n '2,$p' "$WORK/err" | grep -v '^  hint:' | sed "s|$WORK/tree/[^ ]*/||" | head -3 | tr '\n' ' ')
    echo "refused   $pkg $name  $why"
    sed -n '2,$p' "$WORK/err" | grep -v '^  hint:' | sed 's/^[^ ]*: //' >>"$WORK/refused.txt"
done

echo
echo "what blocks the refused units (one line per setting refused):"
sed -e 's/`%[A-Za-z]`/`%X`/' -e 's/^`[A-Za-z]*=`: //' "$WORK/refused.txt" | sort | uniq -c | sort -rn | head -15
echo
echo "what the [systemd] tables carry (units using each):"
sort "$WORK/systemd-keys.txt" | uniq -c | sort -rn | head -25
echo
[ ${#missing[@]} -eq 0 ] || echo "not downloadable here: ${missing[*]}"
echo "packages: $(ls "$WORK"/debs/*.deb | wc -l) downloaded"
pct() { [ "$2" -gt 0 ] && echo "$((100 * $1 / $2))%" || echo "-"; }
echo "units: $total; imported without loss: $lossless ($(pct $lossless $total)); of those fully portable (no [systemd] table): $portable ($(pct $portable $total) of all units, $(pct $portable $lossless) of those imported)"
for b in $OTHERS; do
    echo "fully portable units $b carries as they are: ${carried[$b]} of $portable"
done
echo "templates that import without loss once given instance names (import --instances): $templated; with them: $((lossless + templated)) of $total ($(pct $((lossless + templated)) $total))"
