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
    # there) or when pip fails (offline: pip's isolated build fetches setuptools).
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

install_all() {
    system apt-get update -qq
    # Debian's lgpio (see make_venv); i2c-tools for i2cdetect (finding the OLED's address).
    # Pillow, PyYAML, gpiozero and luma come from pip into the venv (versions pinned by pyproject.toml).
    system apt-get install -y -qq python3-venv python3-pip python3-lgpio i2c-tools
    enable_i2c
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
}

if [ "$mode" = install ]; then
    install_all
else
    uninstall_all
fi
