#!/usr/bin/env bash
# scripts/services/docker.sh — the Docker engine and local registry that the
# .NET agent's integration tests (agent-dotnet/) run against.
#
# What it does, as root on Debian 12, with no network beyond Debian's apt:
#   1. installs docker.io, docker-registry, busybox-static and curl with apt
#      (skipped when dockerd, docker-registry and /bin/busybox are present);
#   2. starts `dockerd --storage-driver=vfs` in the background unless an engine
#      already answers on /var/run/docker.sock (log: $STATE_DIR/dockerd.log);
#   3. writes a registry config ($STATE_DIR/registry.yml, data under
#      $STATE_DIR/registry) and starts `docker-registry serve` on
#      127.0.0.1:5000 unless something already answers there;
#   4. waits until both answer;
#   5. builds the test images offline from a busybox-static rootfs
#      (`docker import`) and pushes them, unless the registry has them all:
#        127.0.0.1:5000/deploybot/hello:v1      GET /up → 200, / → "hello v1"
#        127.0.0.1:5000/deploybot/hello:v2      GET /up → 200, / → "hello v2"
#        127.0.0.1:5000/deploybot/hello:broken  GET /up → 404, / → "hello broken"
#        127.0.0.1:5000/deploybot/hello:slow    like v1, but listens only 2 s after it starts,
#                                               and stops at once on SIGTERM
#      Each runs `busybox httpd -f -p 80 -h /www` (slow: after `sleep 2`), which closes every
#      connection after one answer.
#        127.0.0.1:5000/deploybot/hello:keepalive  like v1, served by `caddy file-server`, which keeps
#                                               connections alive (the proxy latency benchmark needs
#                                               that); Debian's caddy and the libraries `ldd` names
#      Only the tags missing from the registry are built.
#
# Idempotent: a second run installs, starts and builds nothing and takes about
# a second. The daemons outlive this script (setsid); stop them by the pids in
# $STATE_DIR/*.pid.
set -euo pipefail

STATE_DIR=${DEPLOYBOT_SERVICES_DIR:-/var/lib/deploybot-services}
REGISTRY_ADDR=127.0.0.1:5000
DOCKER_SOCK=/var/run/docker.sock
IMAGE_REPO=$REGISTRY_ADDR/deploybot/hello
TAGS=(v1 v2 broken slow keepalive)

log() { printf '[docker.sh] %s\n' "$*" >&2; }
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

# wait_for DESCRIPTION SECONDS COMMAND...: retry COMMAND every half second.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${seconds}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

docker_answers() { curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping; }
registry_answers() { curl -fsS --max-time 2 "http://$REGISTRY_ADDR/v2/"; }

install_packages() {
  if command -v dockerd >/dev/null && command -v docker-registry >/dev/null \
     && [ -x /bin/busybox ] && command -v curl >/dev/null; then
    return
  fi
  log "installing docker.io docker-registry busybox-static curl"
  apt_install_quietly docker.io docker-registry busybox-static curl iptables ca-certificates
}

# caddy's binary is linked dynamically (Debian builds it so): the keepalive image carries it with the
# libraries ldd names, loader included.
install_caddy() {
  if command -v caddy >/dev/null; then return; fi
  log "installing caddy (for the keepalive image)"
  apt_install_quietly caddy
}

# start_daemon NAME DESCRIPTION SECONDS CHECK COMMAND...: runs COMMAND in the
# background, outliving this script (log $STATE_DIR/NAME.log, pid
# $STATE_DIR/NAME.pid), and waits up to SECONDS for CHECK to pass; on a
# timeout shows the log's end and exits.
start_daemon() {
  local name=$1 what=$2 seconds=$3 check=$4; shift 4
  setsid nohup "$@" >"$STATE_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE_DIR/$name.pid"
  if ! wait_for "$what" "$seconds" "$check"; then
    tail -n 30 "$STATE_DIR/$name.log" >&2 || true
    exit 1
  fi
}

start_dockerd() {
  if docker_answers >/dev/null 2>&1; then return; fi
  log "starting dockerd (storage driver vfs)"
  start_daemon dockerd "dockerd on $DOCKER_SOCK" 60 docker_answers dockerd --storage-driver=vfs --host="unix://$DOCKER_SOCK"
}

start_registry() {
  if registry_answers >/dev/null 2>&1; then return; fi
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YAML
  log "starting docker-registry on $REGISTRY_ADDR"
  start_daemon registry "docker-registry on $REGISTRY_ADDR" 30 registry_answers docker-registry serve "$STATE_DIR/registry.yml"
}

# missing_tags: the TAGS the registry does not hold, one a line.
missing_tags() {
  local list tag
  list=$(curl -fsS --max-time 5 "http://$REGISTRY_ADDR/v2/deploybot/hello/tags/list" 2>/dev/null) || list=""
  for tag in "${TAGS[@]}"; do
    grep -q "\"$tag\"" <<<"$list" || echo "$tag"
  done
}

# build_image TAG: a rootfs of busybox-static plus /www, imported as one layer.
build_image() {
  local tag=$1 root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/www" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in sh httpd wget cat echo ls sleep; do
    ln -s busybox "$root/bin/$applet"
  done
  printf 'hello %s\n' "$tag" >"$root/www/index.html"
  if [ "$tag" != broken ]; then
    printf 'ok\n' >"$root/www/up"
  fi
  local cmd='CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]'
  if [ "$tag" = keepalive ]; then
    install_caddy
    local caddy lib
    caddy=$(command -v caddy)
    mkdir -p "$root/usr/bin"
    cp "$caddy" "$root/usr/bin/caddy"
    # ldd prints `name => /path (addr)` or `/path (addr)`; the vdso has no path.
    for lib in $(ldd "$caddy" | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    printf 'hello v1\n' >"$root/www/index.html"
    cmd='CMD ["/usr/bin/caddy", "file-server", "--listen", ":80", "--root", "/www"]'
    tar -C "$root" -c . | docker import --change "$cmd" --change 'EXPOSE 80' --change 'ENV HOME=/tmp' \
      - "$IMAGE_REPO:$tag" >/dev/null
    rm -rf "$root"
    docker push -q "$IMAGE_REPO:$tag" >/dev/null
    log "pushed $IMAGE_REPO:$tag"
    return
  fi
  if [ "$tag" = slow ]; then
    # A shell as PID 1 that ends httpd on SIGTERM, as a well-behaved app does (httpd as PID 1 ignores it).
    cmd='CMD ["/bin/sh", "-c", "trap '"'"'kill $p; exit 0'"'"' TERM; sleep 2; /bin/busybox httpd -f -p 80 -h /www & p=$!; wait $p"]'
  fi
  tar -C "$root" -c . | docker import \
    --change "$cmd" \
    --change 'EXPOSE 80' \
    - "$IMAGE_REPO:$tag" >/dev/null
  rm -rf "$root"
  docker push -q "$IMAGE_REPO:$tag" >/dev/null
  log "pushed $IMAGE_REPO:$tag"
}

main() {
  if [ "$(id -u)" -ne 0 ]; then log "run me as root"; exit 1; fi
  mkdir -p "$STATE_DIR"
  install_packages
  start_dockerd
  start_registry
  local tag
  for tag in $(missing_tags); do build_image "$tag"; done
  log "ready: docker on unix://$DOCKER_SOCK, registry on $REGISTRY_ADDR"
}

main "$@"
