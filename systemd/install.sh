#!/usr/bin/env bash
# Install stretchbox on Raspberry Pi OS Lite 64-bit (Bookworm or Trixie) as a systemd service.
#
#   sudo ./systemd/install.sh              install or update (idempotent); reboot after the first run
#   sudo ./systemd/install.sh --wheels DIR offline: pip takes every package from DIR
#                                          (pip --no-index --find-links DIR; README: "Offline install")
#   sudo ./systemd/install.sh --data-partition PART   ...and keep the data (history, resume journal,
#                                          routines) on partition PART (/dev/mmcblk0p3, LABEL=NAME or NAME,
#                                          UUID=...), mounted at /var/lib/stretchbox: what survives a reboot
#                                          under the read-only overlay (README: "Read-only root")
#   sudo ./systemd/install.sh --uninstall  undo what it added; keeps routines and config
#   sudo ./systemd/install.sh --uninstall --purge   ...and the routines and config too
#   ./systemd/install.sh --root DIR        lay everything out under DIR, touching nothing else, and
#                                          print each command that would change the system (CI)
#   ./systemd/install.sh --root DIR --preflight   ...after the pre-flight checks, run on this machine
#
# Pre-flight checks, before anything is changed (a failed one changes nothing and says what to
# do): 64-bit Raspberry Pi OS (dpkg architecture arm64), python3 >= 3.11, python3-lgpio available
# from apt (Raspberry Pi OS's own archive has it, Debian's does not), and pip's package index
# reachable, or --wheels DIR. They describe the Pi, not the machine that lays out a --root tree,
# so --root skips them unless --preflight asks for them (they then use this machine's uname,
# dpkg, apt-cache and network: how the tests check them, with stand-ins on PATH).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=""
mode=install
purge=no
wheels=""
preflight=""
data_partition=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=$(realpath -m "${2:?--root needs a directory}"); shift 2 ;;
        --wheels) wheels=$(realpath -m "${2:?--wheels needs a directory of .whl files}"); shift 2 ;;
        --preflight) preflight=yes; shift ;;
        --data-partition) data_partition="${2:?--data-partition needs a partition: /dev/mmcblk0p3, LABEL=NAME or UUID=...}"; shift 2 ;;
        --uninstall) mode=uninstall; shift ;;
        --purge) purge=yes; shift ;;
        -h|--help) sed -n '2,/^set -euo/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo), or with --root DIR" >&2
    exit 2
fi
if [ -z "$preflight" ] && [ -z "$root" ]; then preflight=yes; fi

opt="$root/opt/stretchbox"
unit="$root/etc/systemd/system/stretchbox.service"
udev_dir="$root/etc/udev/rules.d"
polkit_rule="$root/etc/polkit-1/rules.d/50-stretchbox-poweroff.rules"
config_dir="$root/etc/stretchbox"
state_dir="$root/var/lib/stretchbox"
helper_dir="$root/usr/local/lib/stretchbox"
modules_conf="$root/etc/modules-load.d/stretchbox-i2c.conf"
splash_unit="$root/etc/systemd/system/stretchbox-splash@.service"
export_unit="$root/etc/systemd/system/stretchbox-export@.service"
export_script="$helper_dir/stretchbox-export"
data_mount="$root/etc/systemd/system/var-lib-stretchbox.mount"
rtc_unit="$root/etc/systemd/system/stretchbox-rtc@.service"
rtc_mark="$opt/fake-hwclock-disabled"   # install.sh disabled fake-hwclock (clock.rtc): enabled again without it
shutdown_hook="$root/usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug"
panel_dir="$opt/panel"
cloud_disabled="$root/etc/cloud/cloud-init.disabled"
stamp="$opt/source.sha256"
apt_packages=(python3-venv python3-pip python3-lgpio i2c-tools)
rtc_line=""  # the RTC's config.txt line (clock.rtc), set by install_all before tune_config_txt
changed=no   # set by put() and the venv: restart the service only when something changed
reboot=no    # set when config.txt changed: it is read by the firmware at boot only

die() {
    echo "install.sh: $*" >&2
    exit 1
}

# ---- pre-flight checks: each reads the system, none changes it --------------------------

installed() {  # installed PACKAGE: dpkg has it installed
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

lgpio_available() {
    installed python3-lgpio && return 0
    local candidate
    candidate=$(apt-cache policy python3-lgpio 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# The package index pip will use: $PIP_INDEX_URL, else pip's own default (asked from pip).
pip_index() {
    if [ -n "${PIP_INDEX_URL:-}" ]; then
        echo "$PIP_INDEX_URL"
        return
    fi
    python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null || true
}

network_for_pip() {
    local index
    index=$(pip_index)
    if [ -z "$index" ]; then  # no pip on the system yet to ask: a default route is the sign of a network
        [ -n "$(ip route show default 2>/dev/null)$(ip -6 route show default 2>/dev/null)" ]
        return
    fi
    python3 - "$index" 2>/dev/null <<'PY'
import sys
import urllib.request

# One HEAD request for pip's own page on the index: a few bytes, whatever the index.
url = sys.argv[1].rstrip("/") + "/pip/"
urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15).close()
PY
}

preflight_checks() {
    local arch kernel
    arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
    kernel=$(uname -m)
    case "$arch" in
        arm64) ;;
        armhf|armel) die "this is 32-bit Raspberry Pi OS ($arch, kernel $kernel): PyPI has no Pillow or PyYAML wheels for it; flash Raspberry Pi OS Lite (64-bit) and run install.sh again" ;;
        *) die "this is $arch (kernel $kernel), not 64-bit Raspberry Pi OS (arm64): run install.sh on the Pi, or only lay the files out with --root DIR" ;;
    esac
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || die "python3 is missing or older than 3.11: use Raspberry Pi OS Bookworm or Trixie"
    lgpio_available \
        || die "apt offers no python3-lgpio (Raspberry Pi OS's own archive has it, Debian's does not): on Raspberry Pi OS run 'sudo apt-get update' and try again"
    if [ -n "$wheels" ]; then
        compgen -G "$wheels/*.whl" >/dev/null \
            || die "--wheels $wheels holds no .whl files: make the wheelhouse as the README says (Offline install)"
    elif ! network_for_pip; then
        die "pip cannot reach its package index ($(pip_index)): connect the Pi to the network, or install offline with --wheels DIR (README: Offline install)"
    fi
    echo "pre-flight checks passed: $arch, $(python3 -V), python3-lgpio, ${wheels:-the package index}"
}

# ---- config.txt: one block of our own, so --uninstall removes exactly what we added ----------
# I2C at 400 kHz (the Zero 2 W's device tree sets 100 kHz: a full frame is ~93 ms on the wire
# instead of ~23 ms), and two boot-time savings: boot_delay=0 (the firmware waits 1 s before the
# kernel by default) and disable_splash=1 (no rainbow screen). Each on its own line:
# raspi-config's set_config_var (and enable_i2c's sed below) rewrite the whole
# `dtparam=i2c_arm=...` line to `dtparam=i2c_arm=on`, dropping a baudrate appended to it.
# A setting config.txt already has outside the block is the user's and stays as it is.
boot_settings=(dtparam=i2c_arm_baudrate=400000 boot_delay=0 disable_splash=1)
block_begin="# >>> stretchbox: added by systemd/install.sh; install.sh --uninstall removes this block"
block_end="# <<< stretchbox"

config_txt() {  # the firmware's config.txt: Bookworm and Trixie, else older releases
    local cfg
    for cfg in "$root/boot/firmware/config.txt" "$root/boot/config.txt"; do
        if [ -f "$cfg" ]; then
            echo "$cfg"
            return 0
        fi
    done
    return 1
}

block_state() {  # block_state FILE: none | one | damaged (markers missing, repeated or out of order)
    awk -v b="$block_begin" -v e="$block_end" '
        $0 == b { nb++; if (open) bad = 1; open = 1 }
        $0 == e { ne++; if (!open) bad = 1; open = 0 }
        END { print (nb == 0 && ne == 0) ? "none" : (nb == 1 && ne == 1 && !bad) ? "one" : "damaged" }' "$1"
}

without_block() { awk -v b="$block_begin" -v e="$block_end" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' "$1"; }
before_block() { awk -v b="$block_begin" '$0 == b { exit } { print }' "$1"; }
current_block() { awk -v b="$block_begin" -v e="$block_end" '$0 == b { on = 1 } on { print } $0 == e { exit }' "$1"; }
after_block() { awk -v e="$block_end" 'seen { print } $0 == e { seen = 1 }' "$1"; }

# in_conditional_section TEXT: the end of config.txt text TEXT is under a filter other than [all]
# ([pi4], [cm5], [gpio4=1], [none]...), which applies to every line after it until the next one.
in_conditional_section() {
    local section
    section=$(grep -E '^[[:space:]]*\[' <<<"$1" | tail -n 1 | tr -d '[:space:]')
    [ -n "$section" ] && [ "$section" != "[all]" ]
}

user_sets() {  # user_sets SETTING TEXT: TEXT (config.txt without our block) sets it already
    case "$1" in
        dtparam=i2c_arm_baudrate=*) grep -Eq '^[[:space:]]*dtparam=([^#]*,)?i2c(_arm|1)?_baudrate=' <<<"$2" ;;
        dtoverlay=i2c-rtc,*) grep -Eq '^[[:space:]]*dtoverlay=i2c-rtc(,|$)' <<<"$2" ;;  # any RTC the user set up
        *) grep -Eq "^[[:space:]]*${1%%=*}=" <<<"$2" ;;
    esac
}

wanted_block() {  # wanted_block BASE BEFORE: the block for config.txt BASE, placed after the text BEFORE
    local setting lines=() settings=("${boot_settings[@]}")
    if [ -n "$rtc_line" ]; then settings+=("$rtc_line"); fi
    for setting in "${settings[@]}"; do
        if user_sets "$setting" "$1"; then
            echo "note: config.txt already sets ${setting%=*}: left as it is" >&2
        else
            lines+=("$setting")
        fi
    done
    [ ${#lines[@]} -gt 0 ] || return 0
    echo "$block_begin"
    if in_conditional_section "$2"; then echo "[all]"; fi
    printf '%s\n' "${lines[@]}"
    echo "$block_end"
}

# replace_block FILE BLOCKFILE: FILE with our block replaced by BLOCKFILE's lines (none: removed).
replace_block() {
    awk -v b="$block_begin" -v e="$block_end" -v f="$2" '
        $0 == b { skip = 1; while ((getline line < f) > 0) print line; next }
        skip { if ($0 == e) skip = 0; next }
        { print }' "$1"
}

# write_config_txt FILE NEWFILE: NEWFILE becomes FILE by a rename (never a half-written config.txt).
write_config_txt() {
    mv -f "$2" "$1"
    sync "$1" 2>/dev/null || true
    reboot=yes
}

tune_config_txt() {
    local cfg state current wanted new block
    if ! cfg=$(config_txt); then
        echo "note: no config.txt in ${root}/boot/firmware or ${root}/boot: add ${boot_settings[*]} to it by hand"
        return
    fi
    state=$(block_state "$cfg")
    if [ "$state" = damaged ]; then
        echo "note: $cfg has a damaged stretchbox block (its marker lines were edited): left as it is; remove the block by hand and run install.sh again" >&2
        return
    fi
    current=$(current_block "$cfg")
    wanted=$(wanted_block "$(without_block "$cfg")" "$(before_block "$cfg")")
    [ "$current" = "$wanted" ] && return 0
    new="$cfg.stretchbox-new"
    block=$(mktemp)
    [ -z "$wanted" ] || printf '%s\n' "$wanted" > "$block"
    if [ "$state" = one ]; then  # the block stays where it is, with its new content
        replace_block "$cfg" "$block" > "$new"
    else
        { cat "$cfg"; if [ -n "$(tail -c 1 "$cfg")" ]; then echo; fi; cat "$block"; } > "$new"
    fi
    rm -f "$block"
    write_config_txt "$cfg" "$new"
    echo "set in $cfg: $(grep -v '^#' <<<"$wanted" | tr '\n' ' ')(takes effect after a reboot)"
}

untune_config_txt() {
    local cfg block
    cfg=$(config_txt) || return 0
    [ "$(block_state "$cfg")" = one ] || return 0
    block=$(mktemp)
    # Settings added after our block were written under its [all]: that line stays for them.
    if grep -qx '\[all\]' <<<"$(current_block "$cfg")" \
            && grep -Eqv '^[[:space:]]*(#|$)' <<<"$(after_block "$cfg")"; then
        echo "[all]" > "$block"
    fi
    replace_block "$cfg" "$block" > "$cfg.stretchbox-new"
    write_config_txt "$cfg" "$cfg.stretchbox-new"
    echo "removed the stretchbox block from $cfg$( [ -s "$block" ] && echo " (kept its [all] line: settings follow it)")"
    rm -f "$block"
}

# ---- cloud-init (Trixie images): it runs its Python stages on every boot, the first one
# (cloud-init-local) before sysinit.target. After the first boot has applied the image's
# settings (user, network, SSH), /etc/cloud/cloud-init.disabled stops it; the settings stay.
cloud_mark="# stretchbox install.sh: cloud-init only ran the first boot; install.sh --uninstall removes this file"

disable_cloud_init() {
    [ -e "$root/usr/bin/cloud-init" ] || return 0  # not installed (Bookworm images)
    [ -e "$cloud_disabled" ] && return 0           # disabled already, by us or by the user
    if ! compgen -G "$root/var/lib/cloud/instances/*/boot-finished" >/dev/null; then
        echo "note: cloud-init has not finished a first boot here: left enabled (run install.sh again after the first boot)"
        return 0
    fi
    mkdir -p "$(dirname "$cloud_disabled")"
    echo "$cloud_mark" > "$cloud_disabled"
    echo "disabled cloud-init after its first boot ($cloud_disabled)"
}

enable_cloud_init() {  # only when the file is the one we wrote
    if [ -f "$cloud_disabled" ] && [ "$(head -n 1 "$cloud_disabled")" = "$cloud_mark" ]; then
        rm -f "$cloud_disabled"
        echo "enabled cloud-init again (removed $cloud_disabled)"
    fi
}

# ---- the data partition (--data-partition): under Raspberry Pi OS's read-only overlay file system
# (raspi-config nonint do_overlayfs 0) every write to the root, /var/lib included, goes to RAM and is gone
# at the next boot. A partition of its own, mounted at /var/lib/stretchbox by a mount unit (read by systemd
# like any unit), keeps history, resume journal and routines. stretchbox.service's StateDirectory= makes
# systemd require that mount and start the service after it.

data_source() {  # data_source PART: the mount unit's What= for --data-partition PART; dies on anything else
    local kind value
    case "$1" in
        /dev/*)
            [[ "$1" =~ ^/dev/[A-Za-z0-9/_.:-]+$ ]] || die "--data-partition $1: not a device path like /dev/mmcblk0p3"
            echo "$1" ;;
        LABEL=*|UUID=*|PARTLABEL=*|PARTUUID=*)
            kind=${1%%=*} value=${1#*=}
            [[ "$value" =~ ^[A-Za-z0-9_.-]+$ ]] || die "--data-partition $1: a $kind of letters, digits, '_', '.' and '-' only"
            echo "/dev/disk/by-$(tr '[:upper:]' '[:lower:]' <<<"$kind")/$value" ;;
        *)
            [[ "$1" =~ ^[A-Za-z0-9_.-]+$ ]] || die "--data-partition $1: give /dev/..., LABEL=NAME, UUID=... or a label of letters, digits, '_', '.' and '-'"
            echo "/dev/disk/by-label/$1" ;;
    esac
}

data_partition_unit() {
    [ -n "$data_partition" ] || return 0   # a later run without the option keeps the partition as set up
    local what tmp
    what=$(data_source "$data_partition")
    tmp=$(mktemp)
    cat > "$tmp" <<EOF
# stretchbox's data (history, resume journal, routines) on a partition of its own, so that it survives
# a reboot under the read-only overlay file system. Written by systemd/install.sh --data-partition;
# install.sh --uninstall removes it (the partition and its data stay). README: "Read-only root".
[Unit]
Description=stretchbox data partition
Documentation=file:///opt/stretchbox/README.md

[Mount]
What=$what
Where=/var/lib/stretchbox
# Data only: nothing on it runs. noatime: reading the library writes nothing to the SD card.
Options=noatime,nosuid,nodev,noexec

[Install]
WantedBy=local-fs.target
EOF
    put "$tmp" "$data_mount" 644
    rm -f "$tmp"
    system systemctl enable var-lib-stretchbox.mount
}

# ---- a real-time clock (config.yaml clock.rtc): its overlay in the config.txt block, and fake-hwclock
# disabled (it restores the time saved at the last shutdown, which an RTC makes wrong-headed); the clock
# is set from the RTC at boot by stretchbox-rtc@.service, started by 60-stretchbox-rtc.rules.
rtc_overlays=(none "" ds3231 "dtoverlay=i2c-rtc,ds3231")  # clock.rtc -> its config.txt line (config.py: RTCS)

configured_rtc() {  # the config's clock.rtc, read by the project's own config loader; none when unreadable
    local py="$opt/venv/bin/python" rtc
    if [ -n "$root" ]; then py=${STRETCHBOX_ROOT_PYTHON:-$py}; fi
    if [ ! -e "$config_dir/config.yaml" ]; then echo none; return; fi
    if ! rtc=$(cd / && "$py" -c 'import sys
from stretchbox.adapters.configfile import load_config
print(load_config(sys.argv[1], pins=False).clock.rtc)' "$config_dir/config.yaml" 2>/dev/null); then
        echo "note: could not read clock.rtc from $config_dir/config.yaml (stretchbox config --check says why): no RTC set up" >&2
        rtc=none
    fi
    echo "$rtc"
}

rtc_overlay() {  # rtc_overlay RTC: its config.txt line (empty for none)
    local i
    for ((i = 0; i < ${#rtc_overlays[@]}; i += 2)); do
        if [ "${rtc_overlays[i]}" = "$1" ]; then echo "${rtc_overlays[i + 1]}"; return; fi
    done
    die "clock.rtc $1 is not known to install.sh"
}

fake_hwclock_installed() {
    [ -e "$root/lib/systemd/system/fake-hwclock.service" ] || [ -e "$root/usr/lib/systemd/system/fake-hwclock.service" ]
}

setup_rtc() {  # setup_rtc RTC
    if [ "$1" = none ]; then
        restore_fake_hwclock
    elif fake_hwclock_installed && [ ! -e "$rtc_mark" ]; then
        system systemctl disable fake-hwclock.service
        mkdir -p "$(dirname "$rtc_mark")"
        echo "# install.sh disabled fake-hwclock.service for clock.rtc: $1" > "$rtc_mark"
    fi
}

restore_fake_hwclock() {  # only what install.sh disabled
    if [ -e "$rtc_mark" ]; then
        if fake_hwclock_installed; then system systemctl enable fake-hwclock.service; fi
        rm -f "$rtc_mark"
    fi
}

# Commands that change the system: run for real, or only said with --root.
system() {
    if [ -n "$root" ]; then
        echo "would run: $*"
    else
        "$@"
    fi
}

# Copy a file only when its content changed (so a second run changes nothing).
put() {  # put SRC DEST MODE
    mkdir -p "$(dirname "$2")"
    if ! cmp -s "$1" "$2"; then
        install -m "$3" "$1" "$2"
        echo "installed $2"
        changed=yes
    fi
}

# Where each systemd/stretchbox-usb* helper (written for the USB udev rule) goes: unit files
# next to ours, anything else (a script the rule runs) executable in $helper_dir.
helper_dest() {
    case "$1" in
        *.service|*.mount|*.automount|*.socket|*.timer|*.target) echo "$root/etc/systemd/system/$(basename "$1")" ;;
        *) echo "$helper_dir/$(basename "$1")" ;;
    esac
}

enable_i2c() {
    if [ -z "$root" ] && command -v raspi-config >/dev/null; then
        raspi-config nonint do_i2c 0   # dtparam=i2c_arm=on and the i2c-dev module, as the menu does
        return
    fi
    # No raspi-config (another Debian on a Pi, or a laid-out SD card under --root): do what it does.
    local cfg
    for cfg in "$root/boot/firmware/config.txt" "$root/boot/config.txt"; do
        if [ -f "$cfg" ]; then
            # On already (raspi-config's own test, get_i2c): the line stays as the user wrote it.
            if ! grep -Eq '^(device_tree_param|dtparam)=([^,]*,)*i2c(_arm)?(=(on|true|yes|1))?(,.*)?$' "$cfg"; then
                if grep -Eq '^#?[[:space:]]*dtparam=i2c_arm=' "$cfg"; then
                    # As raspi-config's set_config_var: every such line, commented or not, in place.
                    sed -i -E 's/^#?[[:space:]]*dtparam=i2c_arm=.*/dtparam=i2c_arm=on/' "$cfg"
                else  # at the end, under [all] (appended under [pi4] it would not reach a Zero)
                    local lines=()
                    if [ -n "$(tail -c 1 "$cfg")" ]; then lines+=(""); fi
                    if in_conditional_section "$(cat "$cfg")"; then lines+=("[all]"); fi
                    printf '%s\n' "${lines[@]}" dtparam=i2c_arm=on >> "$cfg"
                fi
                echo "enabled I2C in $cfg (takes effect after a reboot)"
                reboot=yes
            fi
            local tmp
            tmp=$(mktemp)
            echo i2c-dev > "$tmp"
            put "$tmp" "$modules_conf" 644
            rm -f "$tmp"
            return
        fi
    done
    if [ -n "$root" ]; then
        echo "would run: raspi-config nonint do_i2c 0"
    else
        echo "note: no raspi-config and no config.txt: enable I2C by hand (dtparam=i2c_arm=on, module i2c-dev)"
    fi
}

# What the installed project is built from (pyproject.toml's package-dir): pip runs again only
# when this changes. Build leftovers (__pycache__, an editable install's egg-info) don't count.
sources=(pyproject.toml README.md device routines assets)
source_files() {
    (cd "$repo" && find "${sources[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
        ! -path '*.egg-info/*' -print0 | LC_ALL=C sort -z)
}
source_hash() {
    (cd "$repo" && source_files | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# An executable wrapper at the console script's place, for when no real venv is built under --root.
stand_in() {
    local tmp
    tmp=$(mktemp)
    printf '#!/bin/sh\n# stand-in laid out by install.sh --root; a real install has a venv here\nexec python3 -m stretchbox "$@"\n' > "$tmp"
    put "$tmp" "$opt/venv/bin/stretchbox" 755
    rm -f "$tmp"
}

make_venv() {
    # --root DIR builds a real venv too (python3 -m venv + pip install --no-deps of the repo: ~11 s
    # on the dev machine, under the ~30 s budget), so systemd-analyze verify finds the real console
    # script; the dependencies are left out (DIR is a layout, not a system to run). It lays the
    # stand-in wrapper instead when STRETCHBOX_ROOT_VENV=stand-in (tests that only need a file
    # there) or when pip fails (offline: pip's isolated build fetches setuptools, unless --wheels
    # DIR holds it).
    if [ -n "$root" ] && [ "${STRETCHBOX_ROOT_VENV:-real}" = stand-in ]; then
        stand_in
        return
    fi
    # --system-site-packages: Debian's python3-lgpio (no usable lgpio wheel for 3.13 on aarch64).
    # A venv made by another Python minor version (Bookworm -> Trixie upgrade) is made again.
    local want have
    want=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    have=$(sed -n 's/^version[_a-z]* *= *\([0-9]*\.[0-9]*\).*/\1/p' "$opt/venv/pyvenv.cfg" 2>/dev/null | head -n 1 || true)
    if [ ! -x "$opt/venv/bin/python" ] || [ "$have" != "$want" ]; then
        python3 -m venv --clear --system-site-packages "$opt/venv"
        rm -f "$stamp"
    fi
    local hash pip=("$opt/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade)
    if [ -n "$wheels" ]; then  # offline: every package, and setuptools for the build, from DIR
        pip+=(--no-index --find-links "$wheels")
    fi
    hash=$(source_hash)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ] || ! (cd / && "$opt/venv/bin/python" -c 'import stretchbox') 2>/dev/null; then
        # pip builds in the source tree (build/, *.egg-info): build a copy, so a root-run install
        # leaves no root-owned files in the user's clone.
        local build
        build=$(mktemp -d)
        (cd "$repo" && source_files | tar --null -T - -cf -) | tar -xf - -C "$build"
        if [ -z "$root" ]; then
            "${pip[@]}" "$build"
        elif ! "${pip[@]}" --no-deps "$build"; then
            echo "note: pip install failed (offline?): laid out a stand-in for the console script"
            rm -rf "$build"
            stand_in
            return
        fi
        rm -rf "$build"
        # Bytecode now, not at the first boot (a Pi Zero takes seconds to compile luma and PIL).
        "$opt/venv/bin/python" -m compileall -q "$opt/venv/lib" >/dev/null
        echo "$hash" > "$stamp"
        echo "installed the project into $opt/venv"
        changed=yes
    fi
}

# The boot splash and SAFE TO UNPLUG for the configured panel, as luma's driver draws them
# (stretchbox boot-frames), replayed by stretchbox-splash@.service and the shutdown hook. Made
# again on every run, so a changed display section in config.yaml is picked up; written only
# when different. The --root venv has no dependencies: STRETCHBOX_ROOT_PYTHON may name a Python
# that has them (the tests use their own).
panel_frames() {
    local py="$opt/venv/bin/python" out name
    if [ -n "$root" ]; then py=${STRETCHBOX_ROOT_PYTHON:-$py}; fi
    out=$(mktemp -d)
    if (cd / && "$py" -m stretchbox boot-frames --config "$config_dir/config.yaml" --out "$out"); then
        for name in splash safe-to-unplug; do
            if [ -f "$out/$name.json" ]; then
                put "$out/$name.json" "$panel_dir/$name.json" 644
            elif [ -e "$panel_dir/$name.json" ]; then  # the panel moved to SPI: nothing to replay
                rm -f "$panel_dir/$name.json"
                echo "removed $panel_dir/$name.json"
            fi
        done
    else
        echo "note: could not pre-render the boot splash and SAFE TO UNPLUG (above): the panel shows them once install.sh ran with a working venv and a valid config"
    fi
    rm -rf "$out"
}

install_all() {
    if [ -n "$data_partition" ]; then data_source "$data_partition" >/dev/null; fi  # a bad value changes nothing
    if [ "$preflight" = yes ]; then
        preflight_checks
    else
        echo "pre-flight checks skipped (--root lays out files for a Pi; --preflight runs them on this machine)"
    fi
    # Debian's lgpio (see make_venv); i2c-tools for i2cdetect (finding the OLED's address).
    # Pillow, PyYAML, gpiozero and luma come from pip into the venv (versions pinned by pyproject.toml).
    if [ -n "$root" ]; then
        system apt-get update -qq
        system apt-get install -y -qq "${apt_packages[@]}"
    else
        local package missing=()
        for package in "${apt_packages[@]}"; do
            installed "$package" || missing+=("$package")
        done
        if [ ${#missing[@]} -gt 0 ]; then  # apt needs the network: nothing else was changed yet
            apt-get update -qq || die "apt-get update failed: connect the Pi to the network, or install ${missing[*]} first"
            apt-get install -y -qq "${missing[@]}"
        fi
    fi
    enable_i2c
    local rtc
    rtc=$(configured_rtc)
    rtc_line=$(rtc_overlay "$rtc")
    tune_config_txt
    setup_rtc "$rtc"
    disable_cloud_init
    # The unit's User=/Group=stretchbox, named by the polkit rule. gpio and i2c own /dev/gpiochip*
    # and /dev/i2c-* on Raspberry Pi OS (the unit's SupplementaryGroups= too; this is for `sudo -u`).
    if [ -z "$root" ]; then
        if ! id stretchbox >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir /var/lib/stretchbox \
                --shell /usr/sbin/nologin stretchbox
        fi
        for group in gpio i2c; do
            if getent group "$group" >/dev/null; then usermod -aG "$group" stretchbox; fi
        done
    else
        echo "would run: useradd --system --user-group --no-create-home --home-dir /var/lib/stretchbox --shell /usr/sbin/nologin stretchbox"
        echo "would run: usermod -aG gpio stretchbox; usermod -aG i2c stretchbox"
    fi
    mkdir -p "$opt" "$state_dir"
    make_venv
    put "$repo/README.md" "$opt/README.md" 644
    put "$repo/systemd/stretchbox.service" "$unit" 644
    # The early splash (started by 60-stretchbox-splash.rules) and the shutdown hook.
    put "$repo/systemd/stretchbox-splash@.service" "$splash_unit" 644
    put "$repo/systemd/stretchbox-safe-to-unplug" "$shutdown_hook" 755
    # The history export to a stick: a root oneshot the service may start (polkit rule below).
    put "$repo/systemd/stretchbox-export@.service" "$export_unit" 644
    put "$repo/systemd/stretchbox-export" "$export_script" 755
    put "$repo/systemd/stretchbox-rtc@.service" "$rtc_unit" 644
    data_partition_unit
    local rule
    for rule in "$repo"/systemd/*.rules; do
        [ -e "$rule" ] || continue
        put "$rule" "$udev_dir/$(basename "$rule")" 644
    done
    local helper
    for helper in "$repo"/systemd/stretchbox-usb*; do
        [ -e "$helper" ] || continue
        case "$helper" in
            *.service|*.mount|*.automount|*.socket|*.timer|*.target) put "$helper" "$(helper_dest "$helper")" 644 ;;
            *) put "$helper" "$(helper_dest "$helper")" 755 ;;
        esac
    done
    put "$repo/systemd/polkit/50-stretchbox-poweroff.rules" "$polkit_rule" 644
    if [ ! -e "$config_dir/config.yaml" ]; then  # never overwrite the user's config
        put "$repo/systemd/config.example.yaml" "$config_dir/config.yaml" 644
    fi
    panel_frames
    system systemctl daemon-reload
    system udevadm control --reload
    system systemctl enable stretchbox.service
    if [ "$changed" = yes ]; then
        system systemctl restart stretchbox.service   # new code, unit or rules
    else
        system systemctl start stretchbox.service     # nothing changed: a no-op when it runs
    fi
    echo "stretchbox installed; logs: journalctl -u stretchbox -f"
    if [ "$reboot" = yes ]; then
        echo "reboot to apply the config.txt changes (sudo reboot)"
    fi
}

uninstall_all() {
    system systemctl disable --now stretchbox.service || true
    if [ -e "$data_mount" ]; then system systemctl disable var-lib-stretchbox.mount; fi
    restore_fake_hwclock
    rm -f "$unit" "$splash_unit" "$shutdown_hook" "$polkit_rule" "$modules_conf" "$export_unit" "$export_script" \
        "$rtc_unit" "$data_mount"
    untune_config_txt
    enable_cloud_init
    local rule helper
    for rule in "$repo"/systemd/*.rules; do
        rm -f "$udev_dir/$(basename "$rule")"
    done
    for helper in "$repo"/systemd/stretchbox-usb*; do
        if [ -e "$helper" ]; then rm -f "$(helper_dest "$helper")"; fi
    done
    rmdir "$helper_dir" 2>/dev/null || true
    rm -rf "$opt"
    system systemctl daemon-reload
    system udevadm control --reload
    # The user goes too; its files in /var/lib/stretchbox stay (StateDirectory= re-owns them
    # to whatever uid a later install's stretchbox user gets).
    if [ -z "$root" ]; then
        if id stretchbox >/dev/null 2>&1; then userdel stretchbox; fi
    else
        echo "would run: userdel stretchbox"
    fi
    if [ "$purge" = yes ]; then
        rm -rf "$config_dir" "$state_dir"
        echo "stretchbox removed, with its routines and config"
    else
        echo "stretchbox removed; kept your routines ($state_dir) and config ($config_dir)"
    fi
    if [ "$reboot" = yes ]; then
        echo "reboot to apply the config.txt changes (sudo reboot)"
    fi
}

if [ "$mode" = install ]; then
    install_all
else
    uninstall_all
fi
