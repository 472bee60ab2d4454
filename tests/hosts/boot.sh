#!/bin/sh
# Boot one DCP test host. The harness runs this as PID 1 of the host's new PID namespace, in new mount, UTS and
# IPC namespaces, inside the host's network namespace, with the capability bounding set already reduced.
# It assembles the host's root (an overlay of the shared root), pivots into it, and execs the host's init.
# Usage: boot.sh LOWER UPPER WORK ROOT SEED_DIR
set -eu
lower=$1 upper=$2 work=$3 root=$4 seed=$5

# The host's own copy of the root: writes go to its upper layer, the shared lower layer never changes.
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"

# A /proc of the host's PID namespace. Sysctls outside /proc/sys/net are kernel-wide (vm.*, fs.*, kernel.*):
# read-only, so writing one fails on the host instead of changing this machine. /proc/sys/net is the host's
# own network namespace's, so it stays writable. Other kernel-wide knobs are read-only or hidden too.
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount -o remount,bind,ro,nosuid,nodev,noexec "$root/proc/sys"
for entry in sysrq-trigger irq bus fs; do
    if [ -e "$root/proc/$entry" ]; then
        mount --bind "$root/proc/$entry" "$root/proc/$entry"
        mount -o remount,bind,ro,nosuid,nodev,noexec "$root/proc/$entry"
    fi
done
for entry in kcore keys timer_list sched_debug; do
    if [ -e "$root/proc/$entry" ]; then
        mount --bind /dev/null "$root/proc/$entry"
    fi
done

# sysfs, read-only; mounted from the host's network namespace it lists the host's own network devices.
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

# A /dev of its own with the harmless devices only: no disks, no consoles of this machine.
mount -t tmpfs -o nosuid,noexec,mode=0755,size=1m tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$root/dev/mqueue"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"

# /run is fresh at every start, as after a reboot: no stale pid files of services that ran before a stop.
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$root/run"
mkdir -m 1777 "$root/run/lock"
mkdir -p "$root/run/dcp-testhost/oldroot"
cp "$seed/init.py" "$seed/seed.json" "$root/run/dcp-testhost/"

# Make the overlay the root and drop this machine's mounts from the host's mount namespace entirely.
cd "$root"
pivot_root . run/dcp-testhost/oldroot
cd /
umount -l /run/dcp-testhost/oldroot
rmdir /run/dcp-testhost/oldroot
exec /sbin/init
