#!/usr/bin/env bash
# scripts/services/sshd.sh — the OpenSSH server that ssh-relay's tests run against.
#
# What it does, as root on Debian 12, with no network beyond Debian's apt:
#   installs openssh-server, openssh-client (ssh-keygen) and curl with apt,
#   unless /usr/sbin/sshd and ssh-keygen are already present.
#
# It starts nothing. The tests start and stop their own sshd instances
# (`/usr/sbin/sshd -D -p PORT -o ListenAddress=127.0.0.1 -h HOSTKEY -f CONFIG`)
# with host and client keys they generate in a temporary directory, so no
# system-wide sshd, host key or authorized_keys is touched. The package's own
# init script is kept from starting the system sshd (policy-rc.d 101).
#
# It also creates /run/sshd, the privilege-separation directory that sshd
# insists on (it lives on a tmpfs, so it is created on every run), and the
# account the tests' sessions log in as: `deploybot-ssh`, a deploy user as the
# README sets one up (bash with Debian's default dotfiles, in the docker group,
# no password, key login only). The tests do not log in as root: root's login
# scripts on these machines (pyenv init) cost 120 ms a session and would be
# measured as the relay's.
#
# Idempotent: a second run installs nothing and takes well under a second.
set -euo pipefail

log() { printf '[sshd.sh] %s\n' "$*" >&2; }
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

install_packages() {
  if [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null && command -v curl >/dev/null; then
    return
  fi
  log "installing openssh-server openssh-client curl"
  apt_install_quietly openssh-server openssh-client curl
}

TEST_USER=deploybot-ssh

ensure_test_user() {
  getent group docker >/dev/null || groupadd --system docker
  if ! getent passwd "$TEST_USER" >/dev/null; then
    log "creating user $TEST_USER (group docker)"
    useradd --create-home --shell /bin/bash --groups docker "$TEST_USER"
  fi
  usermod --append --groups docker "$TEST_USER"
  # useradd leaves the password "!", which sshd (without PAM) reads as a locked
  # account and refuses even a key. "*": no password can match, keys work.
  usermod --password '*' "$TEST_USER"
}

main() {
  if [ "$(id -u)" -ne 0 ]; then log "run me as root"; exit 1; fi
  install_packages
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
  ensure_test_user
  log "ready: $(/usr/sbin/sshd -V 2>&1 | head -n1 || true) at /usr/sbin/sshd (not started; tests start their own)"
}

main "$@"
