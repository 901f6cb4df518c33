#!/bin/sh
# Stands in for a configuration's cmd (nginx, envoy, mysql...): logs each start with its
# arguments, one [bracketed] each, and each signal, to $RECORDER_LOG. With RECORDER_WAIT=1
# it stays up (a wrapped server); otherwise it exits 0 at once (a reload command).
log="$RECORDER_LOG"
line="start pid=$$"
for a in "$@"; do line="$line [$a]"; done
echo "$line" >> "$log"
[ "$RECORDER_WAIT" = 1 ] || exit 0
trap 'echo "signal HUP" >> "$log"' HUP
trap 'echo "signal USR1" >> "$log"' USR1
trap 'echo "signal USR2" >> "$log"' USR2
trap 'echo "stop TERM" >> "$log"; exit 0' TERM
trap 'echo "stop INT" >> "$log"; exit 0' INT
while :; do
  sleep 1 &
  wait $!
done
