#!/bin/sh
# netdiscover launcher (shipped as bin/netdiscover and bin/netdiscover_input of the app package
# for Splunk Enterprise). Splunk runs bin/<name>; this runs bin/<name>-<cpu>, the build for this
# machine, in the same process (exec), with the same arguments, stdin, stdout and stderr.
# The CPU comes from the kernel without starting a process where it can (/proc/sys/kernel/arch),
# else from `uname -m`.
read -r machine 2>/dev/null </proc/sys/kernel/arch || machine=$(uname -m)
case $machine in
  x86_64 | amd64) cpu=x86_64 ;;
  aarch64 | arm64) cpu=aarch64 ;;
  *)
    echo "${0##*/}: no build for this machine's CPU ($machine); the app ships x86_64 and aarch64" >&2
    exit 1
    ;;
esac
case $0 in
  */*) self=$0 ;;
  *) self=./$0 ;; # `sh netdiscover` in bin/; exec through PATH gives sh the full path
esac
exec "$self-$cpu" "$@"
