#!/bin/busybox sh
# /init of the test guest (busybox sh). Mounts the pseudo filesystems, binds
# QEMU's edu device to vfio-pci, creates the mtty instances named in
# /pkg/expected/mtty-uuids, brings up the loopback interface, runs the guest's
# tests and notebooks with node, and reboots,
# which ends QEMU (-no-reboot). Setup problems are printed and the tests still
# run: they then fail with a reason, and the host sees the sentinel.
export PATH=/bin:/usr/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
export HOME=/tmp

# the notebooks' Jupyter kernels talk to their runner over ZeroMQ: Unix sockets in /tmp, or TCP
# on the loopback interface, which comes up down
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up || echo "setup: bringing up the loopback interface failed"

edu=0000:00:01.0
echo vfio-pci >/sys/bus/pci/devices/$edu/driver_override &&
  echo $edu >/sys/bus/pci/drivers/vfio-pci/bind ||
  echo "setup: binding $edu to vfio-pci failed"

uuids=$(cat /pkg/expected/mtty-uuids)
for type in /sys/class/mdev_bus/*/mdev_supported_types/*-2; do :; done
for uuid in $uuids; do
  echo "$uuid" >"$type/create" || echo "setup: creating mtty $uuid in $type failed"
done

cd /pkg
node dist/test/real-kernel/guest/main.js /pkg/expected $uuids
echo "guest: node exited with status $?"
reboot -f
