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
    fi
}

enable_i2c() {
    if command -v raspi-config >/dev/null; then
        system raspi-config nonint do_i2c 0
        return
    fi
    local cfg
    for cfg in "$root/boot/firmware/config.txt" "$root/boot/config.txt"; do
        if [ -f "$cfg" ]; then
            grep -q '^dtparam=i2c_arm=on' "$cfg" || echo 'dtparam=i2c_arm=on' >> "$cfg"
            return
        fi
    done
    echo "note: no config.txt found; enable I2C by hand (dtparam=i2c_arm=on)"
}

make_venv() {
    if [ -n "$root" ]; then
        # --root: no Python install into DIR (it would take minutes and the network); an
        # executable stand-in lets systemd-analyze verify find ExecStart.
        mkdir -p "$opt/venv/bin"
        printf '#!/bin/sh\nexec python3 -m stretchbox "$@"\n' > "$opt/venv/bin/stretchbox.new"
        chmod 755 "$opt/venv/bin/stretchbox.new"
        if cmp -s "$opt/venv/bin/stretchbox.new" "$opt/venv/bin/stretchbox"; then
            rm "$opt/venv/bin/stretchbox.new"
        else
            mv "$opt/venv/bin/stretchbox.new" "$opt/venv/bin/stretchbox"
        fi
        return
    fi
    # --system-site-packages: Debian's python3-lgpio (no usable lgpio wheel for 3.13 on aarch64).
    [ -x "$opt/venv/bin/python" ] || python3 -m venv --system-site-packages "$opt/venv"
    "$opt/venv/bin/python" -m pip install --quiet --upgrade "$repo"
    "$opt/venv/bin/python" -m compileall -q "$opt/venv/lib" >/dev/null || true  # fast first start
}

install_all() {
    system apt-get update -qq
    system apt-get install -y -qq python3-venv python3-pip python3-lgpio i2c-tools
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
        put "$rule" "$udev_dir/$(basename "$rule")" 644
    done
    put "$repo/systemd/polkit/50-stretchbox-poweroff.rules" "$polkit_rule" 644
    if [ ! -e "$config_dir/config.yaml" ]; then  # never overwrite the user's config
        put "$repo/systemd/config.example.yaml" "$config_dir/config.yaml" 644
    fi
    system systemctl daemon-reload
    system udevadm control --reload
    system systemctl enable --now stretchbox.service
    system systemctl restart stretchbox.service
    echo "stretchbox installed; logs: journalctl -u stretchbox -f"
}

uninstall_all() {
    system systemctl disable --now stretchbox.service || true
    rm -f "$unit" "$polkit_rule"
    local rule
    for rule in "$repo"/systemd/*.rules; do
        rm -f "$udev_dir/$(basename "$rule")"
    done
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
