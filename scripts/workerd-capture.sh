#!/bin/sh
# Used only while `npm start` prepares (scripts/local-worker.mjs): Miniflare runs this instead of workerd.
# It saves the configuration Miniflare hands workerd on stdin, then runs the real workerd on it.
set -e
cat > "$DEPLOYBOT_WORKERD_CONFIG"
echo $$ > "$DEPLOYBOT_WORKERD_CONFIG.pid" # exec keeps the pid: the capture step stops this workerd by it
exec "$DEPLOYBOT_WORKERD" "$@" < "$DEPLOYBOT_WORKERD_CONFIG"
