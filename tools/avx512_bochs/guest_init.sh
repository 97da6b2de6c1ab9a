#!/bin/busybox sh
# /init of the minimal Linux that run.sh boots in bochs: runs compare_paths
# with its output on the serial console, between the markers run.sh waits
# for, then waits to be switched off.

# Only emergencies from here on: a kernel message on the console could land
# in the middle of one of compare_paths' lines.
/bin/busybox dmesg -n 1
echo "=== GUEST START"
/bin/compare_paths
echo "=== GUEST DONE rc=$?"
# run.sh stops bochs once this line has come out of the serial port. No
# power-off: the port lags behind the program, and a power-off, even a few
# (guest) seconds later, cut off the end of the output.
exec /bin/busybox sleep infinity
