# scripts/services/apt.sh — sourced by the service scripts (docker.sh, sshd.sh).
#
# apt_install_quietly PACKAGE...: apt-get update and install with no
# recommends, while a temporary policy-rc.d (exit 101) keeps the packages'
# own init scripts from starting anything: the service scripts start what the
# tests need themselves, with the options the tests need. An existing
# policy-rc.d is left as it is.
apt_install_quietly() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if ((created_policy)); then rm -f "$policy"; fi
}
