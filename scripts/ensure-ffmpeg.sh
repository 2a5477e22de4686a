#!/usr/bin/env bash
# Make sure ffmpeg and ffprobe are on PATH: install Debian's package when we are root, else say how.
set -euo pipefail
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ffmpeg/ffprobe missing: installing Debian's ffmpeg package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  command -v ffprobe >/dev/null && exit 0
fi
cat >&2 <<'MSG'
ffmpeg and ffprobe are required but not on PATH.
Install them, then re-run the command:
  Debian/Ubuntu: sudo apt-get install ffmpeg
  macOS:         brew install ffmpeg
MSG
exit 1
