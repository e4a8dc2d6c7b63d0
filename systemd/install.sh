#!/usr/bin/env bash
# Install stretchbox on Raspberry Pi OS Lite (Bookworm or Trixie) as a systemd service.
#
#   sudo ./systemd/install.sh              install or update (idempotent)
#   sudo ./systemd/install.sh --uninstall  remove what it added; keeps routines and config
#   sudo ./systemd/install.sh --uninstall --purge   ...and the routines and config too
#   ./systemd/install.sh --root DIR        lay everything out under DIR, touching nothing else
#                                          (what CI checks with systemd-analyze)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=""
mode=install
purge=no
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=$(realpath -m "${2:?--root needs a directory}"); shift 2 ;;
        --uninstall) mode=uninstall; shift ;;
        --purge) purge=yes; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo), or with --root DIR" >&2
    exit 2
fi

opt="$root/opt/stretchbox"
unit="$root/etc/systemd/system/stretchbox.service"
udev_dir="$root/etc/udev/rules.d"
polkit_rule="$root/etc/polkit-1/rules.d/50-stretchbox-poweroff.rules"
config_dir="$root/etc/stretchbox"
state_dir="$root/var/lib/stretchbox"
helper_dir="$root/usr/local/lib/stretchbox"
modules_conf="$root/etc/modules-load.d/stretchbox-i2c.conf"
stamp="$opt/source.sha256"
changed=no   # set by put() and the venv: restart the service only when something changed

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
            if ! grep -qx 'dtparam=i2c_arm=on' "$cfg"; then
                if grep -q '^dtparam=i2c_arm=' "$cfg"; then
                    sed -i 's/^dtparam=i2c_arm=.*/dtparam=i2c_arm=on/' "$cfg"
                else
                    echo 'dtparam=i2c_arm=on' >> "$cfg"
                fi
                echo "enabled I2C in $cfg (takes effect after a reboot)"
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

# What the installed project is built from: pip runs again only when this changes.
source_hash() {
    (cd "$repo" && find pyproject.toml README.md device routines assets -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -d' ' -f1
}

make_venv() {
    if [ -n "$root" ]; then
        # --root: no real venv in DIR (pip's isolated build fetches setuptools from the network,
        # which CI may not have); an executable stand-in lets systemd-analyze verify find ExecStart.
        # tests/wheel_check.sh covers the real install of the console script.
        local tmp
        tmp=$(mktemp)
        printf '#!/bin/sh\n# stand-in laid out by install.sh --root; a real install has a venv here\nexec python3 -m stretchbox "$@"\n' > "$tmp"
        put "$tmp" "$opt/venv/bin/stretchbox" 755
        rm -f "$tmp"
        return
    fi
    # --system-site-packages: Debian's python3-lgpio (no usable lgpio wheel for 3.13 on aarch64).
    # A venv made by another Python minor version (Bookworm -> Trixie upgrade) is made again.
    local want have
    want=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    have=$(sed -n 's/^version[_a-z]* *= *\([0-9]*\.[0-9]*\).*/\1/p' "$opt/venv/pyvenv.cfg" 2>/dev/null | head -n 1)
    if [ ! -x "$opt/venv/bin/python" ] || [ "$have" != "$want" ]; then
        python3 -m venv --clear --system-site-packages "$opt/venv"
        rm -f "$stamp"
    fi
    local hash
    hash=$(source_hash)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ] || ! (cd / && "$opt/venv/bin/python" -c 'import stretchbox') 2>/dev/null; then
        "$opt/venv/bin/python" -m pip install --quiet --upgrade "$repo"
        # Bytecode now, not at the first boot (a Pi Zero takes seconds to compile luma and PIL).
        "$opt/venv/bin/python" -m compileall -q "$opt/venv/lib" >/dev/null
        echo "$hash" > "$stamp"
        echo "installed the project into $opt/venv"
        changed=yes
    fi
}

install_all() {
    system apt-get update -qq
    # Debian's lgpio (see make_venv); its PIL and yaml spare the Pi Zero a download when their
    # versions fit pyproject.toml (pip installs a newer wheel into the venv when not).
    system apt-get install -y -qq python3-venv python3-pip python3-lgpio python3-pil python3-yaml i2c-tools
    enable_i2c
    if [ -z "$root" ]; then
        id stretchbox >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/stretchbox \
            --shell /usr/sbin/nologin stretchbox
        for group in gpio i2c; do
            getent group "$group" >/dev/null && usermod -aG "$group" stretchbox
        done
    else
        echo "would run: useradd --system ... stretchbox; usermod -aG gpio,i2c stretchbox"
    fi
    mkdir -p "$opt" "$state_dir"
    make_venv
    put "$repo/README.md" "$opt/README.md" 644
    put "$repo/systemd/stretchbox.service" "$unit" 644
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
    system systemctl daemon-reload
    system udevadm control --reload
    system systemctl enable stretchbox.service
    if [ "$changed" = yes ]; then
        system systemctl restart stretchbox.service   # new code, unit or rules
    else
        system systemctl start stretchbox.service     # nothing changed: a no-op when it runs
    fi
    echo "stretchbox installed; logs: journalctl -u stretchbox -f"
}

uninstall_all() {
    system systemctl disable --now stretchbox.service || true
    rm -f "$unit" "$polkit_rule" "$modules_conf"
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
    if [ "$purge" = yes ]; then
        rm -rf "$config_dir" "$state_dir"
        if [ -z "$root" ]; then
            userdel stretchbox 2>/dev/null || true
        fi
        echo "stretchbox removed, with its routines and config"
    else
        echo "stretchbox removed; kept your routines ($state_dir) and config ($config_dir)"
    fi
}

if [ "$mode" = install ]; then
    install_all
else
    uninstall_all
fi
