#!/usr/bin/env bash
# Proves deploy/image/Dockerfile's two stages without a container engine: debootstrap builds a
# Debian 12 root filesystem for each stage, and the stages' steps run in chroots.
#   build:   a minbase bookworm (what the debian:12 image is), the committed tree copied to /src
#            (git archive HEAD: tracked files only, no build trees), then the Dockerfile's build
#            RUN itself, read from the Dockerfile, run by /bin/sh -c in /src as root.
#   runtime: a second minbase bookworm, the Dockerfile's runtime RUN with its ARGs
#            (RUNTIME_LIBRARIES, RUNTIME_TOOLS) read from the Dockerfile, the stripped plugin
#            copied to /usr/bin/rds-csi-plugin.
#   check:   in the runtime chroot as uid 65532 (the image's USER): `--help` works; `ldd` finds
#            every library and their packages (dpkg -S) are exactly RUNTIME_LIBRARIES; the plugin
#            starts on its embedded default (simulated RDS, no cluster, loopback only), its
#            /metrics answers on loopback, and SIGTERM stops it with exit code 0.
#   tar:     (only with --tar) WORK/rds-csi-rootfs.tar of the runtime root, for
#            `docker import --change 'USER 65532:65532' --change 'ENTRYPOINT ["/usr/bin/rds-csi-plugin"]'`.
# Usage: deploy/image/build-rootfs.sh [--tar] [--stage build|runtime|check|all] [WORK]
#   WORK defaults to /var/cache/rds-csi/image-work (never inside the checkout). A stage whose
#   root already exists is reused: `--stage runtime` redoes the runtime root and the check only.
#   DEBIAN_MIRROR (default http://deb.debian.org/debian) names the mirror. Needs root, network to
#   the mirror, ~3 GB; takes long (a full build of the plugin on the machine's cores). CI does not
#   run it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dockerfile="$here/Dockerfile"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
stage=all
make_tar=0
work=/var/cache/rds-csi/image-work
while [ $# -gt 0 ]; do
  case "$1" in
    --tar) make_tar=1 ;;
    --stage) stage="$2"; shift ;;
    --stage=*) stage="${1#--stage=}" ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) work="$1" ;;
  esac
  shift
done
case "$stage" in build|runtime|check|all) ;; *) echo "bad --stage: $stage" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap, chroot, mount)" >&2; exit 1; }
mkdir -p "$work"
work="$(cd "$work" && pwd)"
case "$work/" in
  "$repo"/*) echo "WORK must be outside the checkout: $work" >&2; exit 2 ;;
esac
build_root="$work/build-root"
runtime_root="$work/runtime-root"

log() { echo "[$(date -u +%H:%M:%S)] $*"; }

# --- The Dockerfile, parsed: continuation lines joined, then the ARGs and each stage's RUN. ---
joined="$(sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$dockerfile" | grep -v '^[[:space:]]*#')"
stage_text() { # $1 = 1 (build) or 2 (runtime): that stage's lines
  awk -v want="$1" '/^FROM /{n++} n==want' <<<"$joined"
}
build_run="$(stage_text 1 | sed -n 's/^RUN //p')"
runtime_run="$(stage_text 2 | sed -n 's/^RUN //p')"
arg_value() { # $1 = ARG name: its default, whitespace squeezed
  stage_text 2 | sed -n "s/^ARG $1=\"\(.*\)\"\$/\1/p" | tr -s ' \t' ' ' | sed 's/^ //;s/ $//'
}
runtime_libraries="$(arg_value RUNTIME_LIBRARIES)"
runtime_tools="$(arg_value RUNTIME_TOOLS)"
copy_line="$(stage_text 2 | grep '^COPY --from=build ')"
copy_src="$(awk '{print $3}' <<<"$copy_line")"
copy_dst="$(awk '{print $4}' <<<"$copy_line")"
user="$(stage_text 2 | sed -n 's/^USER //p')"
for v in build_run runtime_run runtime_libraries runtime_tools copy_src copy_dst user; do
  [ -n "${!v}" ] || { echo "could not read $v from $dockerfile" >&2; exit 1; }
  [ "$(wc -l <<<"${!v}")" -eq 1 ] || { echo "more than one $v in $dockerfile" >&2; exit 1; }
done
[ "$(stage_text 1 | head -1)" = "FROM debian:12 AS build" ] &&
  [ "$(stage_text 2 | head -1)" = "FROM debian:12" ] ||
  { echo "the stages are no longer FROM debian:12: update this script" >&2; exit 1; }
log "build RUN:   $build_run"
log "runtime RUN: $runtime_run"
log "RUNTIME_LIBRARIES: $runtime_libraries"
log "RUNTIME_TOOLS: $runtime_tools"
log "COPY $copy_src -> $copy_dst; USER $user"

# --- Mounts, always undone. ---
mounted=()
plugin_pid=
cleanup() {
  if [ -n "$plugin_pid" ] && kill -0 "$plugin_pid" 2>/dev/null; then kill -KILL "$plugin_pid" || true; fi
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
  done
  mounted=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_in() { # $1 = root: /proc, /dev and /dev/pts bound from the host (apt, dpkg, the plugin)
  mkdir -p "$1/proc" "$1/dev"
  mount -t proc proc "$1/proc"
  mounted+=("$1/proc")
  mount --bind /dev "$1/dev"
  mounted+=("$1/dev")
  mount --bind /dev/pts "$1/dev/pts"
  mounted+=("$1/dev/pts")
}
unmount_all() { cleanup; }

bootstrap() { # $1 = root
  if [ -f "$1/.rds-bootstrapped" ]; then log "reusing $1"; return; fi
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  fi
  rm -rf "$1"
  log "debootstrap --variant=minbase bookworm $1 $mirror"
  debootstrap --variant=minbase bookworm "$1" "$mirror"
  # The sources of the debian:12 image: the release, its updates and the security archive.
  rm -f "$1/etc/apt/sources.list"
  # As in the debian:12 image: apt keeps no downloaded packages and no binary caches.
  cat >"$1/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  cat >"$1/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  touch "$1/.rds-bootstrapped"
}

in_root() { # $1 = root, $2 = workdir, rest = command: a Docker RUN's environment
  local root="$1" dir="$2"
  shift 2
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" /usr/bin/env -i HOME=/root \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUNTIME_LIBRARIES="$runtime_libraries" RUNTIME_TOOLS="$runtime_tools" \
    /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@" </dev/null
}

run_build() {
  local t0=$SECONDS
  bootstrap "$build_root"
  log "copying the committed tree ($(git -C "$repo" rev-parse --short HEAD)) to /src"
  rm -rf "$build_root/src" "$build_root/build"
  mkdir -p "$build_root/src"
  git -C "$repo" archive --format=tar HEAD | tar -x -C "$build_root/src"
  mount_in "$build_root"
  log "build RUN in the chroot"
  in_root "$build_root" /src /bin/sh -c "$build_run"
  unmount_all
  [ -x "$build_root$copy_src" ] || { echo "no $copy_src after the build RUN" >&2; exit 1; }
  log "build stage done in $((SECONDS - t0)) s: $(du -h "$build_root$copy_src" | cut -f1) $copy_src"
}

run_runtime() {
  local t0=$SECONDS
  [ -x "$build_root$copy_src" ] || { echo "no $build_root$copy_src: run the build stage" >&2; exit 1; }
  rm -rf "$runtime_root"
  bootstrap "$runtime_root"
  mount_in "$runtime_root"
  log "runtime RUN in the chroot"
  in_root "$runtime_root" / /bin/sh -c "$runtime_run"
  unmount_all
  install -D -m 0755 "$build_root$copy_src" "$runtime_root$copy_dst"
  log "runtime stage done in $((SECONDS - t0)) s: $(du -sh "$runtime_root" | cut -f1)"
}

as_user() { # in the runtime root as the image's USER
  chroot --userspec="$user" "$runtime_root" /usr/bin/env -i HOME=/ \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

run_check() {
  [ -x "$runtime_root$copy_dst" ] || { echo "no runtime root: run the runtime stage" >&2; exit 1; }
  mount_in "$runtime_root"
  log "check: --help as $user"
  as_user "$copy_dst" --help >"$work/help.txt"
  grep -q -- '--rds-address' "$work/help.txt" || { echo "--help lacks --rds-address" >&2; exit 1; }
  as_user "$copy_dst" --version

  log "check: ldd as $user"
  as_user ldd "$copy_dst" >"$work/ldd.txt"
  cat "$work/ldd.txt"
  if grep -q 'not found' "$work/ldd.txt"; then echo "a library is missing" >&2; exit 1; fi
  local libs pkgs lib p
  libs="$(awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}' "$work/ldd.txt" | sort -u)"
  pkgs=""
  for lib in $libs; do
    # usrmerge: dpkg knows a library under the path its package ships it at.
    p="$(chroot "$runtime_root" dpkg -S "$lib" 2>/dev/null ||
      chroot "$runtime_root" dpkg -S "${lib#/usr}" 2>/dev/null ||
      chroot "$runtime_root" dpkg -S "/usr$lib" 2>/dev/null)" ||
      { echo "no package owns $lib" >&2; exit 1; }
    pkgs+="$(cut -d: -f1 <<<"$p" | head -1)"$'\n'
  done
  pkgs="$(sort -u <<<"$pkgs" | sed '/^$/d')"
  if [ "$pkgs" != "$(tr ' ' '\n' <<<"$runtime_libraries" | sort -u)" ]; then
    echo "the linked libraries' packages differ from RUNTIME_LIBRARIES (< linked, > listed):" >&2
    diff <(echo "$pkgs") <(tr ' ' '\n' <<<"$runtime_libraries" | sort -u) >&2 || true
    exit 1
  fi
  log "ldd: $(wc -l <<<"$libs") libraries, all found; their $(wc -l <<<"$pkgs") packages are RUNTIME_LIBRARIES"

  # A free loopback port for /metrics; the inspection port off. Everything else is the default:
  # the embedded simulator (no --rds-address), no cluster, the socket under /tmp/rds-csi.
  local port i body rc
  for ((i = 0; i < 50; i++)); do
    port=$((20000 + RANDOM % 40000))
    ss -Hltn "sport = :$port" | grep -q . || break
  done
  log "check: the plugin as $user, metrics on 127.0.0.1:$port"
  rm -rf "$runtime_root/tmp/rds-csi"
  # chroot and env exec: $! is the plugin itself.
  chroot --userspec="$user" "$runtime_root" /usr/bin/env -i HOME=/ PATH=/usr/bin:/bin \
    "$copy_dst" --metrics-address="127.0.0.1:$port" --debug-address= >"$work/plugin.log" 2>&1 &
  plugin_pid=$!
  body=""
  for ((i = 0; i < 100; i++)); do
    kill -0 "$plugin_pid" 2>/dev/null || { cat "$work/plugin.log"; echo "the plugin exited" >&2; exit 1; }
    # The request comes from inside the runtime root too: bash's /dev/tcp, as the image's user.
    if body="$(as_user timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 &&
        printf "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' "$port" 2>/dev/null)" &&
      grep -q '^HTTP/1.[01] 200' <<<"$body" && [ -S "$runtime_root/tmp/rds-csi/csi.sock" ]; then
      break
    fi
    body=""
    sleep 0.2
  done
  [ -n "$body" ] || { cat "$work/plugin.log"; echo "no /metrics answer and CSI socket in 20 s" >&2; exit 1; }
  grep -q '^rds_csi_' <<<"$body" || { echo "/metrics has no rds_csi_ series" >&2; exit 1; }
  log "/metrics answered: $(grep -c '^rds_csi_' <<<"$body") rds_csi_ samples; socket $(stat -c 'uid %u gid %g mode %a' "$runtime_root/tmp/rds-csi/csi.sock") /tmp/rds-csi/csi.sock"
  log "check: SIGTERM"
  kill -TERM "$plugin_pid"
  rc=0
  for ((i = 0; i < 100; i++)); do kill -0 "$plugin_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$plugin_pid" || rc=$?
  plugin_pid=
  cat "$work/plugin.log"
  [ "$rc" -eq 0 ] || { echo "the plugin exited $rc after SIGTERM" >&2; exit 1; }
  log "the plugin stopped with exit code 0"
  unmount_all
  log "check passed"
}

t_all=$SECONDS
case "$stage" in
  build) run_build ;;
  runtime) run_runtime; run_check ;;
  check) run_check ;;
  all) run_build; run_runtime; run_check ;;
esac
if [ "$make_tar" -eq 1 ]; then
  rm -rf "$runtime_root/tmp/rds-csi"
  tar -C "$runtime_root" --numeric-owner --exclude=./.rds-bootstrapped -cf "$work/rds-csi-rootfs.tar" .
  log "wrote $work/rds-csi-rootfs.tar ($(du -h "$work/rds-csi-rootfs.tar" | cut -f1))"
fi
log "done in $((SECONDS - t_all)) s"
