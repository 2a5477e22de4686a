#!/usr/bin/env bash
# Make sure the system tools the suite needs are on PATH, installing Debian's packages when we
# are root, else saying how:
#   - ffmpeg and ffprobe (required: the video pipelines and their tests)
#   - a compose CLI when a docker client is present (docker-compose.yaml is validated with it)
#   - rclone, one of the peers `make bench` and its smoke test compare against
#   - chromium, the browser tests/browser drives with the playwright package (Debian's build:
#     Playwright's own browser downloads are never used)
set -euo pipefail

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if can_apt; then
    echo "ffmpeg/ffprobe missing: installing Debian's ffmpeg package" >&2
    apt_install ffmpeg
  fi
  if ! command -v ffprobe >/dev/null 2>&1; then
    cat >&2 <<'MSG'
ffmpeg and ffprobe are required but not on PATH.
Install them, then re-run the command:
  Debian/Ubuntu: sudo apt-get install ffmpeg
  macOS:         brew install ffmpeg
MSG
    exit 1
  fi
fi

if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1 \
   && ! command -v docker-compose >/dev/null 2>&1; then
  if can_apt; then
    echo "docker client without compose: installing Debian's docker-compose to validate docker-compose.yaml" >&2
    apt_install docker-compose || echo "could not install docker-compose; its validation test will say so" >&2
  else
    echo "note: install the docker compose plugin to validate docker-compose.yaml (sudo apt-get install docker-compose)" >&2
  fi
fi

if ! command -v rclone >/dev/null 2>&1; then
  if can_apt; then
    echo "rclone missing: installing Debian's rclone (a benchmark peer)" >&2
    apt_install rclone
  else
    echo "note: the benchmark compares against rclone: sudo apt-get install rclone" >&2
  fi
fi

if [ ! -x /usr/bin/chromium ]; then
  if can_apt; then
    echo "chromium missing: installing Debian's chromium (the browser tests drive it)" >&2
    apt_install chromium
  else
    echo "note: the browser tests need Debian's chromium at /usr/bin/chromium: sudo apt-get install chromium" >&2
  fi
fi
