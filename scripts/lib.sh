# Shared helpers for the scripts in this folder. Source it; it does nothing on its own.

# The project root, whatever folder the caller runs from.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Interpreters built by scripts/setup live outside the clone, so a fresh clone reuses them.
CACHE_DIR="${HA_RT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ha_rt}"

log() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root rights are needed for: $* (install sudo or run as root)"
    fi
}

# apt-get update once per script run, then install the named packages.
APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install these packages by hand: $*"
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update"
        as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -qq --no-install-recommends "$@" >/dev/null
}

# Print the first Debian archive URI apt is configured with (not the security archive),
# read from deb822 .sources files and from one-line sources.list entries.
debian_mirror() {
    local files=() uri
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 1
    uri="$(
        awk '
            /^[[:space:]]*#/ { next }
            /^URIs:/ { for (i = 2; i <= NF; i++) print $i }
            /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
        ' "${files[@]}" | grep -E '/debian/?$' | grep -v -- '-security' | head -n 1
    )"
    [ -n "$uri" ] || return 1
    printf '%s\n' "${uri%/}"
}
