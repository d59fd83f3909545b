#!/usr/bin/env bash
# box.sh - real init systems booted as PID 1 of systemd-nspawn containers
# (debootstrapped Debian trees), for svc-any's end-to-end tests and tests/matrix. Run as root.
#
#   box.sh build PROFILE...|all|cells host packages + root trees (idempotent, safe in parallel)
#   box.sh profiles                   every profile name
#   box.sh cells                      the matrix's profiles (tests/matrix), in its order
#   box.sh tree PROFILE               where its root tree is (built or not)
#   box.sh up PROFILE [--keep]        boot (fresh state unless --keep), wait until the init is up
#   box.sh exec PROFILE CMD [ARG...]  run CMD inside; stdio and exit code pass through (125: not running)
#   box.sh chroot PROFILE [--keep] CMD [ARG...]
#                                     CMD chrooted into the tree while the container is down, as
#                                     an image build does (fresh state unless --keep); `up PROFILE
#                                     --keep` then boots what it left
#   box.sh reboot PROFILE             clean shutdown, then boot again with the state kept
#   box.sh down PROFILE [--kill]      clean shutdown (SIGKILL after 20 s; --kill: at once) and
#                                     cleanup; idempotent
#   box.sh leader PROFILE             host PID of the container's PID 1
#
# PROFILE: INIT[-RELEASE]. INIT: systemd sysv openrc daemons (systemd with nginx, ssh, redis,
#   cron) sysvdaemons openrcdaemons (sysvinit, OpenRC with the same daemons) runit
#   daemontools s6 supervisord (sysvinit with Debian's supervisor, whose init script starts
#   supervisord). RELEASE: 12 (Debian bookworm, the default: `systemd` is `systemd-12`), 11
#   (bullseye), 13 (trixie); or `openrc-busybox`, the Alpine-like tree: bookworm's OpenRC
#   with busybox as /bin/sh and its applets first on PATH, no procps. Each
#   release has one base tree that its profiles copy. `box.sh build all` builds every bookworm
#   profile; `box.sh profiles` lists all.
# Environment:
#   SVC_ANY_LAB        state dir (default /var/lib/svc-any-lab): cache/ base/ PROFILE-root/ run/
#   SVC_ANY_BOX        instance suffix: container sa-PROFILE-SUFFIX, own state, runs beside others
#   SVC_ANY_BIN        host binary, bound read-only at /usr/local/bin/svc-any on every boot
#   SVC_ANY_BOX_SHARE  host directory, bound read-only at /opt/svc-any-share on every boot
# shellcheck disable=SC2016 # single-quoted snippets are run by another shell, inside
set -u

LAB=${SVC_ANY_LAB:-/var/lib/svc-any-lab}
MIRROR=${SVC_ANY_MIRROR:-http://deb.debian.org/debian}
BASE_PKGS=python3,procps
RECIPE=1 # bump when the way trees are made changes, so existing trees get rebuilt
IN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
BOOT_TIMEOUT=60
HALT_TIMEOUT=20
PROFILES="systemd sysv openrc daemons sysvdaemons openrcdaemons runit daemontools s6 supervisord"
# The matrix's cells (tests/matrix): every init on every release, and the Alpine-like tree.
# The daemons profiles are one release's (its package set is tests/e2e_daemons.rs's business).
CELLS="systemd-11 openrc-11 sysv-11 systemd-12 openrc-12 sysv-12 systemd-13 openrc-13 sysv-13 openrc-busybox"

say() { [ -n "${QUIET:-}" ] || echo "box.sh: $*" >&2; }
die() { echo "box.sh: $1" >&2; exit "${2:-1}"; }
usage() { sed -n '/^# shellcheck/q; s/^#\( \|$\)//p' "$0" >&2; exit 2; }

# One block per init system:
#   P_PKGS   packages on top of the base; "+" starts a further apt-get call (for
#            packages whose maintainer scripts need the earlier ones configured)
#   P_HALT   clean shutdown command, run inside
#   P_READY  sh snippet run inside, true once the init system is completely up
#   P_INIT   optional PID 1 command line instead of the tree's /sbin/init
#   P_POST   optional sh snippet run chrooted in the tree once its packages are in
#   P_ENV    optional environment of `exec` (a manager that runs under another init is
#            chosen with SVC_ANY_BACKEND, as a user would)
profile() {
    local init=${1%-*} rel=${1##*-}
    [ "$init" != "$1" ] || rel=12
    P_INIT=() P_POST='' P_ENV=()
    # A release is a suite and its base tree. Bookworm's keeps the names it always had (base/,
    # systemd-root/, tree markers without a suite), so trees built before releases existed
    # stay valid and `systemd-12` is `systemd`.
    case $rel in
    11) SUITE=bullseye ;;
    12 | busybox) SUITE=bookworm ;;
    13) SUITE=trixie ;;
    *) die "unknown release '$rel' in profile '$1' (11, 12, 13; or openrc-busybox)" 2 ;;
    esac
    if [ "$SUITE" = bookworm ]; then BASE=$LAB/base SUITE_TAG=''; else BASE=$LAB/base-$SUITE SUITE_TAG=" $SUITE"; fi
    [ "$rel" != busybox ] || [ "$init" = openrc ] || die "only openrc has a busybox tree (openrc-busybox)" 2
    case $init in
    systemd)
        # libpam-systemd: without pam_systemd, user@1000.service dies at once
        # ("$XDG_RUNTIME_DIR is not set"), so there is no user manager for alice
        P_PKGS=(systemd systemd-sysv dbus libpam-systemd)
        P_HALT=(systemctl poweroff)
        P_READY='case $(systemctl is-system-running) in running|degraded) ;; *) exit 1 ;; esac' ;;
    daemons)
        # systemd with Debian's own daemons, for tests/e2e_daemons.rs
        P_PKGS=(systemd systemd-sysv dbus libpam-systemd + nginx-core openssh-server redis-server cron)
        P_HALT=(systemctl poweroff)
        P_READY='case $(systemctl is-system-running) in running|degraded) ;; *) exit 1 ;; esac' ;;
    sysvdaemons)
        # sysvinit with Debian's own daemons (and their init scripts), for tests/e2e_daemons.rs
        P_PKGS=(sysvinit-core sysv-rc initscripts + nginx-core openssh-server redis-server cron)
        P_HALT=(telinit 0)
        P_READY='runlevel | grep -q " 2$" && ! ps -eo args | grep -q "^/bin/sh /etc/init.d/rc"' ;;
    openrcdaemons)
        # OpenRC with Debian's own daemons (and their init scripts), for tests/e2e_daemons.rs
        P_PKGS=(sysvinit-core openrc + nginx-core openssh-server redis-server cron)
        P_HALT=(telinit 0)
        P_READY='[ "$(rc-status -r)" = default ] && ! grep -qsx openrc /proc/[0-9]*/comm' ;;
    sysv)
        P_PKGS=(sysvinit-core sysv-rc initscripts)
        P_HALT=(telinit 0)
        P_READY='runlevel | grep -q " 2$" && ! ps -eo args | grep -q "^/bin/sh /etc/init.d/rc"' ;;
    openrc)
        # openrc conflicts with sysv-rc, which debootstrap --include would pick: apt-get decides
        P_PKGS=(sysvinit-core openrc)
        P_HALT=(telinit 0)
        # no ps: the busybox tree has none that takes -o args; comm is "openrc" while it runs
        P_READY='[ "$(rc-status -r)" = default ] && ! grep -qsx openrc /proc/[0-9]*/comm'
        if [ "$rel" = busybox ]; then
            # Alpine-like: what differs on Alpine is the shell (ash, not dash), the tools
            # (busybox applets, no procps) and the libc (the static musl svc-any). Every applet
            # is linked into /usr/local/sbin, first on PATH, for svc-any, OpenRC's scripts and
            # the services alike; /bin/sh is busybox. GNU coreutils and findutils stay behind
            # the applets (Debian's dpkg needs them); procps goes, and with it ps, pgrep and
            # pidof, so is sysvinit's pidof. PID 1 stays sysvinit, so busybox's init, halt,
            # poweroff and reboot (which signal PID 1 as busybox init understands) are left out.
            P_PKGS+=(busybox-static)
            P_POST='dpkg --purge --force-depends procps &&
                rm -f /usr/bin/pidof /usr/sbin/pidof &&
                /bin/busybox --install -s /usr/local/sbin &&
                rm -f /usr/local/sbin/init /usr/local/sbin/halt /usr/local/sbin/poweroff \
                    /usr/local/sbin/reboot /usr/local/sbin/linuxrc &&
                ln -sf /bin/busybox /usr/bin/sh &&
                test "$(readlink -f /usr/local/sbin/ps)" = /usr/bin/busybox'
        fi ;;
    runit)
        # Debian's runit-init: /sbin/init is runit, stage 2 runs runsvdir on /etc/service
        P_PKGS=(runit-init)
        P_HALT=(init 0)
        P_READY='ps -eo args | grep -q "^runsvdir -P /etc/service"' ;;
    daemontools)
        # sysvinit PID 1; daemontools-run adds "SV:123456:respawn:/usr/bin/svscanboot" to
        # inittab only when inittab exists: a second apt stage
        P_PKGS=(sysvinit-core sysv-rc initscripts + daemontools daemontools-run)
        P_HALT=(telinit 0)
        P_ENV=(SVC_ANY_BACKEND=daemontools)
        P_READY='runlevel | grep -q " 2$" && ps -eo args | grep -q "^svscan /etc/service"' ;;
    s6)
        # s6-svscan itself as PID 1 (bookworm has no s6-linux-init) on a persistent scan
        # directory, so that enabled services come back after a reboot
        P_PKGS=(s6 execline)
        P_INIT=(/usr/bin/s6-svscan /etc/s6/service)
        P_HALT=(s6-svscanctl -t /etc/s6/service)
        P_READY='test -p /etc/s6/service/.s6-svscan/control' ;;
    supervisord)
        # sysvinit is PID 1 and /etc/init.d/supervisor (rc2.d) starts supervisord: svc-any
        # detects sysv here, and `--backend supervisord` (SVC_ANY_BACKEND, as an operator of
        # such a host sets it) chooses the supervisor. Up once it answers on its socket.
        P_PKGS=(sysvinit-core sysv-rc initscripts + supervisor)
        P_ENV=(SVC_ANY_BACKEND=supervisord)
        P_HALT=(telinit 0)
        P_READY='runlevel | grep -q " 2$" && ! ps -eo args | grep -q "^/bin/sh /etc/init.d/rc" && supervisorctl pid | grep -qx "[0-9][0-9]*"' ;;
    *) die "unknown profile '$1' (known: $PROFILES, each with -11 or -13, and openrc-busybox)" 2 ;;
    esac
    # RELEASE 12 is the plain name: one tree, one container name, whichever way it is asked for
    [ "$rel" != 12 ] || set -- "$init"
    PROF=$1 TREE=$LAB/$1-root
    M=sa-$1${SVC_ANY_BOX:+-$SVC_ANY_BOX}
    [ ${#M} -le 30 ] || die "container name $M is longer than 30 characters"
    RUN=$LAB/run/$M
    # nspawn needs a cgroup of its own in the hierarchies it manages (there is
    # no host systemd to hand one out): the named systemd one + unified, or pure v2
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
        CG=("/sys/fs/cgroup/svc-any-$M")
    else
        CG=()
        for h in systemd unified; do
            [ ! -d "/sys/fs/cgroup/$h" ] || CG+=("/sys/fs/cgroup/$h/svc-any-$M")
        done
    fi
}

# ---- building ---------------------------------------------------------------

host_ready() {
    local p
    for p in debootstrap systemd-container; do
        dpkg -s "$p" 2>/dev/null | grep -qx 'Status: install ok installed' || return 1
    done
}

host_pkgs() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
        debootstrap systemd-container)
    host_ready && return 0
    say "apt-get install debootstrap systemd-container (host)"
    # the lists directory changes whenever apt-get update fetches something new
    [ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin -1440)" ] || apt-get update -qq >&2
    "${apt[@]}" >&2 || { apt-get update -qq >&2; "${apt[@]}" >&2; }
}

# in_root TREE CMD...: CMD chrooted into TREE, with /dev, /sys, its own /proc and
# the shared .deb cache, in private mount and PID namespaces: no mount leaks to
# the host and whatever a maintainer script starts dies with the namespace.
# PID 1 of the namespace must stay outside the chroot (no exec): ischroot
# compares / with /proc/1/root, and sysvinit-core's postinst, not knowing it
# runs in a chroot, would spend 40 s waiting for an init on /run/initctl.
in_root() {
    local t=$1
    shift
    unshare --mount --propagation private --pid --fork --mount-proc="$t/proc" sh -c '
        t=$1 c=$2; shift 2
        mount --rbind /dev "$t/dev" && mount -t sysfs sysfs "$t/sys" &&
            mount --bind "$c" "$t/var/cache/apt/archives" || exit 1
        chroot "$t" "$@"; exit $?' sh "$t" "$LAB/cache" \
        env -i PATH="$IN_PATH" HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# apt_in TREE PKG...: install; if that fails (stale lists), refresh and retry once
apt_in() {
    # the trees are disposable: dpkg need not fsync every file
    local t=$1 opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io)
    shift
    in_root "$t" apt-get install "${opts[@]}" "$@" ||
        { in_root "$t" apt-get update -q && in_root "$t" apt-get install "${opts[@]}" "$@"; }
}

# Everything below runs under the build lock; every step re-checks its marker
# (a tree is complete iff its marker matches), and trees are built as NAME.tmp
# and renamed, so a killed build leaves nothing that looks finished.
build_base() {
    local b=$BASE log=$BASE-build.log
    [ "$(cat "$b/.box-ready" 2>/dev/null)" = "$BASE_PKGS$SUITE_TAG" ] && return 0
    say "debootstrap $SUITE ($BASE_PKGS) into $b, about a minute"
    rm -rf "$b.tmp" "$b" && mkdir -p "$LAB/cache/partial" || return 1
    # own mount namespace: a killed debootstrap leaves no /proc mounted in the tree. The .deb
    # cache is shared by the releases: a file name carries the package's version.
    if ! unshare --mount --propagation private debootstrap --variant=minbase \
        --include="$BASE_PKGS" --cache-dir="$LAB/cache" "$SUITE" "$b.tmp" "$MIRROR" >"$log" 2>&1 ||
        ! cp /etc/resolv.conf "$b.tmp/etc/resolv.conf" ||
        ! in_root "$b.tmp" apt-get update -q >>"$log" 2>&1 ||
        ! in_root "$b.tmp" useradd --create-home --uid 1000 --user-group --shell /bin/bash alice >>"$log" 2>&1
    then
        tail -n 25 "$log" >&2
        return 1
    fi
    echo "$BASE_PKGS$SUITE_TAG" >"$b.tmp/.box-ready" && mv "$b.tmp" "$b"
}

tree_want() { echo "recipe $RECIPE; base $BASE_PKGS$SUITE_TAG; packages ${P_PKGS[*]}${P_POST:+; post $(printf %s "$P_POST" | cksum | cut -d" " -f1)}"; }
tree_ready() { [ "$(cat "$TREE/.box-ready" 2>/dev/null)" = "$(tree_want)" ]; }

build_tree() {
    local t=$TREE.tmp log=$LAB/$PROF-build.log stage=() p
    tree_ready && return 0
    # a running container's overlay would lose the files under its feet
    for p in "$LAB/run/sa-$PROF.pid" "$LAB/run/sa-$PROF"-*.pid; do
        ! alive "$(cat "$p" 2>/dev/null)" || { echo "box.sh: $TREE must be rebuilt, but is in use" >&2; return 1; }
    done
    build_base || return 1
    say "building $TREE: ${P_PKGS[*]}"
    rm -rf "$t" && cp -a "$BASE" "$t" && rm "$t/.box-ready" && : >"$log" || return 1
    # maintainer scripts must not start daemons in the tree
    printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d" && chmod 755 "$t/usr/sbin/policy-rc.d"
    for p in "${P_PKGS[@]}" +; do
        if [ "$p" != + ]; then
            stage+=("$p")
        elif [ ${#stage[@]} -gt 0 ]; then
            apt_in "$t" "${stage[@]}" >>"$log" 2>&1 || { tail -n 25 "$log" >&2; return 1; }
            stage=()
        fi
    done
    if [ -n "$P_POST" ]; then
        in_root "$t" sh -ec "$P_POST" >>"$log" 2>&1 || { tail -n 25 "$log" >&2; return 1; }
    fi
    # the booted container's own invoke-rc.d must be able to start daemons
    rm "$t/usr/sbin/policy-rc.d"
    # a container has no VTs: gettys would fail and respawn forever
    [ ! -f "$t/etc/inittab" ] || sed -i '/^[^#].*getty/s/^/#/' "$t/etc/inittab"
    # s6-svscan's scan directory, which no package makes
    [ "$PROF" != s6 ] || mkdir -p "$t/etc/s6/service"
    # nor gettys of runit's (getty-ttyN services)
    rm -rf "$t"/etc/runit/runsvdir/default/getty-* "$t"/etc/sv/getty-*
    # debootstrap copied the host's name; without it the hostname stays the
    # container name nspawn sets (sa-PROFILE-SUFFIX)
    rm -f "$t/etc/hostname"
    tree_want >"$t/.box-ready"
    rm -rf "$TREE" && mv "$t" "$TREE"
}

build() {
    host_ready && tree_ready && return 0
    mkdir -p "$LAB" || return 1
    (flock 9 && host_pkgs && build_tree) 9>"$LAB/build.lock"
}

# ---- running ----------------------------------------------------------------

# alive PID: it exists and is no zombie (this host's PID 1 reaps orphans only
# every second or two, so an exited nspawn lingers as a zombie for a while)
alive() {
    local s
    case ${1:-} in '' | *[!0-9]*) return 1 ;; esac
    read -r s 2>/dev/null <"/proc/$1/stat" || return 1
    s=${s##*') '}
    [ "${s%% *}" != Z ]
}

# is_leader PID NSPAWN: PID is a child of NSPAWN and PID 1 of its own namespace
is_leader() {
    local k v pp='' ns=''
    alive "$1" || return 1
    while read -r k v; do
        case $k in PPid:) pp=$v ;; NSpid:) ns=${v##*[[:space:]]} ;; esac
    done 2>/dev/null <"/proc/$1/status"
    [ "$pp" = "$2" ] && [ "$ns" = 1 ]
}

# attach: N = nspawn's PID, L = the container's PID 1, if both are still what
# the run files say (PIDs get reused)
attach() {
    local comm=
    N=$(cat "$RUN.pid" 2>/dev/null) L=$(cat "$RUN.leader" 2>/dev/null)
    alive "$N" && read -r comm 2>/dev/null <"/proc/$N/comm"
    [ "$comm" = systemd-nspawn ] && is_leader "$L" "$N"
}

in_box() { nsenter -t "$L" -a env -i PATH="$IN_PATH" HOME=/root LANG=C.UTF-8 "${P_ENV[@]}" "$@"; }

cg_pids() { [ ${#CG[@]} -eq 0 ] || find "${CG[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null; }

# The init's own shutdown (unless KILL is set: a test's container, whose disk the
# next boot discards anyway), then SIGKILL for whatever is left in the container's
# cgroups (its PID 1 takes the whole PID namespace along, nspawn is there too),
# then remove what a boot creates except upper/ and the log. Safe when nothing runs.
stop_box() {
    local end=$((SECONDS + HALT_TIMEOUT)) i c pids lock
    if attach; then
        # the image lock nspawn keeps for the overlay's root (by device:inode)
        # stays behind in /run if nspawn gets killed
        lock=$(nsenter -t "$N" -m stat -c %d:%i "$RUN.merged" 2>/dev/null)
        if [ -z "${KILL:-}" ]; then
            timeout "$HALT_TIMEOUT" nsenter -t "$L" -a env -i PATH="$IN_PATH" "${P_HALT[@]}" >/dev/null 2>&1
            while alive "$N" && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
        fi
    fi
    for ((i = 0; i < 50; i++)); do
        mapfile -t pids < <(cg_pids)
        [ ${#pids[@]} -gt 0 ] || break
        kill -KILL "${pids[@]}" 2>/dev/null
        sleep 0.1
    done
    for c in "${CG[@]}"; do
        [ ! -d "$c" ] || find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    # nspawn's own leftovers when it was killed: its image locks and propagation dir
    rm -rf "$RUN.work" "$RUN.pid" "$RUN.leader" "$LAB/run/.#$M.merged.lck" "/run/systemd/nspawn/propagate/$M" \
        ${lock:+"/run/systemd/nspawn/locks/inode-$lock"}
    rmdir "$RUN.merged" 2>/dev/null
    return 0
}

# boot KEEP: start the container (KEEP=1 reuses the upper dir of the last boot),
# set L and wait until P_READY holds
boot() {
    local n c comm args end
    args=(--quiet --register=no --keep-unit -M "$M" -D "$RUN.merged" --private-network --console=read-only)
    if [ -n "${SVC_ANY_BIN:-}" ]; then
        [ -f "$SVC_ANY_BIN" ] || die "SVC_ANY_BIN=$SVC_ANY_BIN is no file"
        args+=("--bind-ro=$(realpath "$SVC_ANY_BIN"):/usr/local/bin/svc-any")
    fi
    if [ -n "${SVC_ANY_BOX_SHARE:-}" ]; then
        [ -d "$SVC_ANY_BOX_SHARE" ] || die "SVC_ANY_BOX_SHARE=$SVC_ANY_BOX_SHARE is no directory"
        args+=("--bind-ro=$(realpath "$SVC_ANY_BOX_SHARE"):/opt/svc-any-share")
    fi
    if [ ${#P_INIT[@]} -gt 0 ]; then args+=(-- "${P_INIT[@]}"); else args+=(-b); fi
    stop_box
    end=$((SECONDS + BOOT_TIMEOUT))
    [ "$1" = 1 ] || rm -rf "$RUN.upper"
    mkdir -p "$RUN.upper" "$RUN.work" "$RUN.merged" "${CG[@]}" || return 1
    # --register=no --keep-unit: no host systemd/machined to talk to.
    # --console=read-only, not passive: a passive console is a pty nobody
    # reads, and once ~8 KB are written to it every console writer (the init
    # included) blocks; read-only copies it into the log as it comes.
    # The overlay lives only in a private mount namespace, so it vanishes with
    # the container. setsid: the container outlives this script and must not
    # get the caller's terminal signals. No fd of the caller may stay open in it.
    (
        for c in "${CG[@]}"; do echo "$BASHPID" >"$c/cgroup.procs" || exit 1; done
        exec setsid unshare --mount --propagation private sh -c '
            mount -t overlay svc-any-box -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" || exit 1
            shift 4; exec systemd-nspawn "$@"' sh "$TREE" "$RUN.upper" "$RUN.work" "$RUN.merged" "${args[@]}"
    ) </dev/null >"$RUN.log" 2>&1 &
    n=$!
    disown "$n" # no "Killed" job report from bash if it must be killed below
    echo "$n" >"$RUN.pid"
    L=
    while [ "$SECONDS" -lt "$end" ] && alive "$n"; do
        if [ -z "$L" ]; then
            # PID 1 is the child of nspawn that is PID 1 inside, once it exec'd the init
            for c in $(pgrep -P "$n"); do
                is_leader "$c" "$n" && read -r comm 2>/dev/null <"/proc/$c/comm" &&
                    [ "$comm" != systemd-nspawn ] && L=$c && echo "$L" >"$RUN.leader"
            done
        elif in_box sh -c "$P_READY" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    stop_box
    echo "box.sh: $M did not come up (nspawn exited, or ${BOOT_TIMEOUT}s passed); console log $RUN.log:" >&2
    cat "$RUN.log" >&2
    return 1
}

# in_tree KEEP CMD...: CMD chrooted into the container's tree while it is down (the state of
# earlier boots kept if KEEP=1), as an image build chroots into a tree: /proc of its own PID
# namespace, /dev and /sys mounted, svc-any and the share bound where a boot binds them. PID 1
# of the namespace stays outside the chroot (see in_root), so the chroot shows. What CMD
# writes goes to the upper directory the next `up --keep` boots with.
in_tree() {
    local keep=$1 bin='' share='' rc
    shift
    ! attach || die "$M is running: chroot works on a tree that is down"
    stop_box
    [ "$keep" = 1 ] || rm -rf "$RUN.upper"
    mkdir -p "$RUN.upper" "$RUN.work" "$RUN.merged" || return 1
    [ -z "${SVC_ANY_BIN:-}" ] || bin=$(realpath "$SVC_ANY_BIN")
    [ -z "${SVC_ANY_BOX_SHARE:-}" ] || share=$(realpath "$SVC_ANY_BOX_SHARE")
    unshare --mount --propagation private --pid --fork sh -c '
        t=$4 bin=$5 share=$6
        mount -t overlay svc-any-box -o "lowerdir=$1,upperdir=$2,workdir=$3" "$t" &&
            mount -t proc proc "$t/proc" && mount --rbind /dev "$t/dev" &&
            mount -t sysfs sysfs "$t/sys" || exit 1
        if [ -n "$bin" ]; then
            : >>"$t/usr/local/bin/svc-any" && mount --bind "$bin" "$t/usr/local/bin/svc-any" || exit 1
        fi
        if [ -n "$share" ]; then
            mkdir -p "$t/opt/svc-any-share" && mount --bind "$share" "$t/opt/svc-any-share" || exit 1
        fi
        shift 6
        chroot "$t" "$@"; exit $?' sh "$TREE" "$RUN.upper" "$RUN.work" "$RUN.merged" "$bin" "$share" \
        env -i PATH="$IN_PATH" HOME=/root LANG=C.UTF-8 "${P_ENV[@]}" "$@"
    rc=$?
    rm -rf "$RUN.work"
    rmdir "$RUN.merged" 2>/dev/null
    return $rc
}

# ---- command line -----------------------------------------------------------

[ "$(id -u)" = 0 ] || die "must run as root"
case $LAB in /*) ;; *) LAB=$PWD/$LAB ;; esac
case $LAB in *[,:[:space:]]*) die "SVC_ANY_LAB must not contain commas, colons or blanks (overlayfs options)" ;; esac
[[ ${SVC_ANY_BOX:-} =~ ^[A-Za-z0-9-]*$ ]] || die "SVC_ANY_BOX may hold only letters, digits and -"
mkdir -p "$LAB/run" || exit 1

cmd=${1:-}
[ $# -lt 2 ] && [ "$cmd" != build ] && [ "$cmd" != profiles ] && [ "$cmd" != cells ] && usage
shift
case $cmd in
profiles) echo "$PROFILES $CELLS" | tr ' ' '\n' | sort -u ;;
cells) echo "$CELLS" ;;
tree)
    profile "$1"
    echo "$TREE" ;;
build)
    [ $# -gt 0 ] || usage
    # shellcheck disable=SC2086 # word lists
    case $* in all) set -- $PROFILES ;; cells) set -- $CELLS ;; esac
    for p; do
        profile "$p"
        build || exit 1
    done ;;
up | reboot)
    profile "$1"
    keep=1
    if [ "$cmd" = up ]; then
        case ${2:-} in --keep) ;; '') keep=0 ;; *) usage ;; esac
        QUIET=1 build || exit 1
    fi
    boot "$keep" || exit 1
    echo "$PROF up (leader PID $L)" ;;
exec)
    profile "$1"
    shift
    [ $# -gt 0 ] || usage
    attach || die "$M is not running" 125
    exec nsenter -t "$L" -a env -i PATH="$IN_PATH" HOME=/root LANG=C.UTF-8 "${P_ENV[@]}" "$@" ;;
chroot)
    profile "$1"
    shift
    keep=0
    [ "${1:-}" != --keep ] || { keep=1; shift; }
    [ $# -gt 0 ] || usage
    QUIET=1 build || exit 1
    in_tree "$keep" "$@" ;;
down)
    profile "$1"
    case ${2:-} in --kill) KILL=1 ;; '') ;; *) usage ;; esac
    stop_box ;;
leader)
    profile "$1"
    attach || die "$M is not running" 125
    echo "$L" ;;
*) usage ;;
esac
