#!/usr/bin/env bash
# A real Linux kernel with a simulated GPIO chip, for the tests that must reach the kernel's GPIO
# character device (edge events, the kernel's debounce, line requests): this machine's own kernel
# has no gpio-sim and loads no modules, a VM's kernel can.
#
# Builds, into DIR (default .vm): Debian's stock amd64 kernel (the one linux-image-amd64 points at),
# the gpio-sim and irq_sim modules compiled out of tree from that kernel's own source (Debian builds
# neither), and an initramfs (busybox, the virtio/9p/configfs modules, an init that mounts the host's
# root read-only and runs a script). tests/vm/kernel.py boots it. Needs root for apt-get when a
# package is missing. Idempotent: a DIR that holds every output is left as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "${1:-.vm}")
stamp=$(cat "$here/init" "$here/build.sh" | sha256sum | cut -d' ' -f1)  # a changed init is built again
[ -s "$dir/vmlinuz" ] && [ -s "$dir/initramfs.gz" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && exit 0
mkdir -p "$dir/work"
cd "$dir/work"

# Debian's current kernel (the one linux-image-amd64 points at), its headers and its source, and the
# tools. Old lists can name a kernel the archive no longer has: then once more after apt-get update.
kernel_abi() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\(.*-amd64\)$/\1/p' | head -1; }
fetch() {
    abi=$(kernel_abi)
    [ -n "$abi" ] || return 1
    need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    [ -x /bin/busybox ] || need+=(busybox-static)
    command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || need+=(kmod)
    command -v cpio >/dev/null || need+=(cpio)
    [ -d "/usr/src/linux-headers-$abi" ] || need+=("linux-headers-$abi")
    if [ ${#need[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || return 1
    fi
    rm -f ./*.deb
    chmod 0777 .  # apt-get download writes here as user _apt when it can: let it
    apt-get download -q "linux-image-$abi" "linux-source-${abi%%.0-*}" >/dev/null 2>&1 || return 1
    mv linux-image-*.deb image.deb && mv linux-source-*.deb source.deb
}
fetch || { apt-get update -qq && fetch; } || { echo "build.sh: cannot get Debian's kernel, headers and source" >&2; exit 1; }
depmod=$(command -v depmod || echo /usr/sbin/depmod)
modprobe=$(command -v modprobe || echo /usr/sbin/modprobe)

rm -rf root && mkdir root && dpkg-deb -x image.deb root
cp "root/boot/vmlinuz-$abi" vmlinuz

# gpio-sim and the interrupt simulator it needs, from this kernel's source. Two changes, both because
# the module is built outside the tree: irq_to_desc() is not exported to modules (generic_handle_irq()
# runs the same handle_simple_irq that irq_sim installs), and a module needs a licence line.
rm -rf mod && mkdir mod
dpkg-deb --fsys-tarfile source.deb | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' \
    | tar -xJ --strip-components=1 -C mod --wildcards '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' \
        '*/kernel/irq/irq_sim.c' || true   # tar stops reading once it has them: a broken pipe upstream
mv mod/drivers/gpio/* mod/kernel/irq/irq_sim.c mod/
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' mod/irq_sim.c
grep -q 'generic_handle_irq(irqnum)' mod/irq_sim.c || { echo "build.sh: irq_sim.c changed upstream" >&2; exit 1; }
printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' >> mod/irq_sim.c
echo 'obj-m := irq_sim.o gpio-sim.o' > mod/Kbuild
make -s -C "/usr/src/linux-headers-$abi" M="$PWD/mod" modules >make.log 2>&1 || { cat make.log >&2; exit 1; }

# The initramfs: busybox, the modules in dependency order, and the init.
rm -rf initrd && mkdir -p initrd/bin initrd/modules
cp /bin/busybox initrd/bin/busybox
"$depmod" -b "$PWD/root" "$abi"
: > initrd/modules/order
for m in virtio_pci 9pnet_virtio 9p configfs; do
    "$modprobe" -d "$PWD/root" -S "$abi" --show-depends "$m" | awk '{print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" initrd/modules/ && basename "$ko" >> initrd/modules/order
done
cp mod/irq_sim.ko mod/gpio-sim.ko initrd/modules/
printf 'irq_sim.ko\ngpio-sim.ko\n' >> initrd/modules/order
install -m 0755 "$here/init" initrd/init
(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.gz
mv vmlinuz initramfs.gz "$dir/"
echo "$stamp" > "$dir/stamp"
rm -rf "$dir/work"
