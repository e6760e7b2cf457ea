# Language runtimes of applications (see app/applications/runtimes.py): each engine
# version lives in $HOME/.devopness/runtimes/<language>/<version>/, side by side, with its
# executables in bin/. Installed by the deploy's "Install runtime" step, for the deploy
# user (no root needed), from the source and mirror given in DEVOPNESS_RUNTIME_MIRROR
# (the control plane's setting named in DEVOPNESS_RUNTIME_MIRROR_SETTING).

# A finished install holds this file; it is written before the directory is renamed into
# place, so a directory without it is the leftover of an interrupted run.
DV_RUNTIME_MARKER=.devopness-runtime
DV_RUNTIME_WORK=""

dv_runtime_human() {
  case $1 in
    nodejs) echo Node.js ;; python) echo Python ;; php) echo PHP ;; ruby) echo Ruby ;;
    go) echo Go ;; java) echo Java ;; *) echo "$1" ;;
  esac
}

# The application's runtime bin directory (absolute), empty when it needs none.
dv_runtime_bin() {
  local bin=${DEVOPNESS_APP_RUNTIME_BIN:-}
  [ -n "$bin" ] || return 0
  case $bin in /*) printf '%s\n' "$bin" ;; *) printf '%s\n' "$HOME/$bin" ;; esac
}

# The runtime's version line, as its own executable reports it.
dv_runtime_version() {
  local language=$1 bin=$2
  case $language in
    nodejs) "$bin/node" --version ;;
    python) "$bin/python3" --version ;;
    go) "$bin/go" version ;;
    java) "$bin/java" -version 2>&1 | sed -n 1p ;;
    ruby) "$bin/ruby" --version ;;
    php) "$bin/php" -r 'echo "PHP ", PHP_VERSION, "\n";' ;;
    *) return 1 ;;
  esac
}

# dv_runtime_fetch URL FILE WHAT: download or fail saying which version, which URL, which
# setting points there.
dv_runtime_fetch() {
  local url=$1 file=$2 what=$3 err
  if ! err=$(curl -fsSL --retry 2 --connect-timeout 20 -o "$file" -- "$url" 2>&1 </dev/null); then
    dv_fail "cannot get $what from $url (${err//[$'\n']/ }): the server must reach it, or set $DEVOPNESS_RUNTIME_MIRROR_SETTING to a mirror with the same layout"
  fi
}

# dv_runtime_verify FILE SHA256 URL: refuse an archive whose checksum differs.
dv_runtime_verify() {
  local file=$1 expected=$2 url=$3 actual
  actual=$(sha256sum -- "$file" | awk '{print $1}')
  if [ "$actual" != "$expected" ]; then
    dv_fail "checksum mismatch for $url: expected sha256 $expected, got $actual; refusing to install it (check $DEVOPNESS_RUNTIME_MIRROR_SETTING)"
  fi
  dv_log "sha256 verified: $actual"
}

dv_runtime_not_offered() {
  dv_fail "$1 is not available at $2 ($3 not found there): pick another engine version, or set $DEVOPNESS_RUNTIME_MIRROR_SETTING to a mirror that has it"
}

# The newest name matching the extended regexp $1 among the words of file $2.
dv_runtime_newest() {
  grep -oE "$1" -- "$2" | sort -uV | tail -n 1 || true
}

# dv_runtime_pick URL LISTING REGEX WANTED: download the listing at URL into the file
# LISTING and set `file` (the caller's) to the newest name in it matching REGEX; fails
# saying WANTED (the archive asked for, in words) is not there when none does.
dv_runtime_pick() {
  dv_runtime_fetch "$1" "$2" "$human $version"
  file=$(dv_runtime_newest "$3" "$2")
  [ -n "$file" ] || dv_runtime_not_offered "$human $version" "$1" "$4"
}

# Each source sets: rt_url (archive), rt_sha (expected sha256, empty when the source
# publishes none), rt_full (exact version), rt_strip (leading path components to drop),
# and may define rt_build: with rt_from_source=1 it turns the source tree in $work/src
# into the runtime in $work/root, else it adjusts the unpacked runtime in $work/root.

dv_runtime_source_nodejs() {
  local arch sums ext file
  case $(uname -m) in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  sums="$work/SHASUMS256.txt"
  dv_runtime_fetch "$mirror/latest-v$version.x/SHASUMS256.txt" "$sums" "$human $version"
  file=""
  for ext in $(dv_has xz && echo tar.xz) tar.gz; do
    # Through the environment: awk -v would read the backslashes as escapes and the dots
    # of the pattern would match any character.
    file=$(want="^node-v${version//./\\.}\\.[0-9]+\\.[0-9]+-linux-$arch\\.$ext\$" \
      awk '$2 ~ ENVIRON["want"] { print $2; exit }' "$sums")
    [ -n "$file" ] && break
  done
  [ -n "$file" ] || dv_runtime_not_offered "$human $version" \
    "$mirror/latest-v$version.x/SHASUMS256.txt" "node-v$version.*-linux-$arch.tar.xz or .tar.gz"
  rt_url="$mirror/latest-v$version.x/$file"
  rt_sha=$(awk -v f="$file" '$2 == f { print $1; exit }' "$sums")
  rt_full=${file#node-}; rt_full=${rt_full%-linux-*}
  rt_strip=1
}

dv_runtime_source_python() {
  local arch sums file
  arch=$(uname -m)
  sums="$work/SHA256SUMS"
  dv_runtime_pick "$mirror/SHA256SUMS" "$sums" \
    "cpython-${version//./\\.}\\.[0-9]+\\+[0-9]+-$arch-unknown-linux-gnu-install_only\\.tar\\.gz" \
    "cpython-$version.*-$arch-unknown-linux-gnu-install_only.tar.gz"
  rt_url="$mirror/$file"
  rt_sha=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1; exit }' "$sums")
  rt_full=${file#cpython-}; rt_full=${rt_full%%+*}
  rt_strip=1
  rt_build() {
    # install_only builds ship python3 and pip3; applications often call `python`/`pip`.
    [ -e "$work/root/bin/python" ] || ln -s python3 "$work/root/bin/python"
    [ -e "$work/root/bin/pip" ] || [ ! -e "$work/root/bin/pip3" ] || ln -s pip3 "$work/root/bin/pip"
  }
}

dv_runtime_source_go() {
  local arch listing file flat
  case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  listing="$work/listing.json"
  dv_runtime_pick "$mirror/?mode=json&include=all" "$listing" \
    "go${version//./\\.}(\\.[0-9]+)?\\.linux-$arch\\.tar\\.gz" "go$version.*.linux-$arch.tar.gz"
  rt_url="$mirror/$file"
  # The listing holds each file's sha256 next to its name; a plain mirror has <file>.sha256.
  flat=$(tr -d ' \n\t' <"$listing")
  rt_sha=$(grep -oE "\"filename\":\"${file//./\\.}\"[^}]*\"sha256\":\"[0-9a-f]{64}\"" <<<"$flat" \
    | grep -oE '[0-9a-f]{64}' | sed -n 1p || true)
  if [ -z "$rt_sha" ]; then
    dv_runtime_fetch "$rt_url.sha256" "$work/sha256" "the checksum of $file"
    rt_sha=$(awk '{ print $1; exit }' "$work/sha256")
  fi
  rt_full=${file#go}; rt_full=${rt_full%.linux-*}
  rt_strip=1
}

dv_runtime_source_java() {
  local arch api json flat
  case $(uname -m) in x86_64) arch=x64 ;; *) arch=$(uname -m) ;; esac
  api="$mirror/assets/latest/$version/hotspot?architecture=$arch&image_type=jdk&os=linux&vendor=eclipse"
  json="$work/assets.json"
  dv_runtime_fetch "$api" "$json" "$human $version"
  flat=$(tr -d ' \n\t' <"$json")
  rt_url=$(grep -oE '"link":"[^"]*\.tar\.gz"' <<<"$flat" | sed -n '1s/^"link":"\(.*\)"$/\1/p' || true)
  [ -n "$rt_url" ] || dv_runtime_not_offered "$human $version" "$api" \
    "a Temurin JDK $version .tar.gz for linux/$arch"
  dv_runtime_fetch "$rt_url.sha256.txt" "$work/sha256" "the checksum of $human $version"
  rt_sha=$(awk '{ print $1; exit }' "$work/sha256")
  rt_full=$(grep -oE '"release_name":"[^"]*"' <<<"$flat" | sed -n '1s/^"release_name":"\(.*\)"$/\1/p' || true)
  rt_full=${rt_full:-$version}
  rt_strip=1
}

dv_runtime_source_ruby() {
  local index name
  index="$work/index.txt"
  dv_runtime_fetch "$mirror/index.txt" "$index" "$human $version"
  awk -F'\t' '{ print $1 }' "$index" >"$work/names"
  name=$(dv_runtime_newest "^ruby-${version//./\\.}\\.[0-9]+\\.tar\\.gz$" "$work/names")
  [ -n "$name" ] || dv_runtime_not_offered "$human $version" "$mirror/index.txt" \
    "ruby-$version.*.tar.gz"
  rt_url="$mirror/$version/$name"
  rt_sha=$(awk -F'\t' -v f="$name" '$1 == f { print $4; exit }' "$index")
  rt_full=${name#ruby-}; rt_full=${rt_full%.tar.gz}
  rt_strip=1
  rt_from_source=1
  rt_build() {
    # Ruby's own source release, built for this server the way ruby-build does: the
    # prefix is the final directory, `make install` goes through DESTDIR into the
    # staging tree that is renamed into place.
    local cc jobs
    cc=$(command -v cc || command -v gcc || true)
    [ -n "$cc" ] && dv_has make || dv_fail "building $human $rt_full needs a C compiler and make: as root, apt-get install build-essential libssl-dev libyaml-dev zlib1g-dev libffi-dev"
    jobs=$(nproc 2>/dev/null || echo 1)
    dv_log "building $human $rt_full from source ($jobs jobs; a few minutes)"
    if ! (cd "$work/src" && ./configure --prefix="$target" --disable-install-doc \
          && make -j"$jobs" && make install DESTDIR="$work/dest") >"$work/build.log" 2>&1 </dev/null; then
      tail -n 30 "$work/build.log"
      dv_fail "building $human $rt_full failed (above); it needs build tools and headers: as root, apt-get install build-essential libssl-dev libyaml-dev zlib1g-dev libffi-dev"
    fi
    mv -- "$work/dest$target" "$work/root"
  }
}

dv_runtime_source_php() {
  local arch listing file
  arch=$(uname -m)
  listing="$work/listing"
  dv_runtime_pick "$mirror/" "$listing" \
    "php-${version//./\\.}\\.[0-9]+-cli-linux-$arch\\.tar\\.gz" "php-$version.*-cli-linux-$arch.tar.gz"
  rt_url="$mirror/$file"
  rt_sha=""
  if curl -fsSL --connect-timeout 20 -o "$work/SHA256SUMS" -- "$mirror/SHA256SUMS" </dev/null 2>/dev/null; then
    rt_sha=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1; exit }' "$work/SHA256SUMS")
    [ -n "$rt_sha" ] || dv_fail "$mirror/SHA256SUMS does not list $file: refusing to install it unverified (check $DEVOPNESS_RUNTIME_MIRROR_SETTING)"
  fi
  rt_full=${file#php-}; rt_full=${rt_full%%-cli-*}
  rt_strip=0
  rt_build() {
    # static-php-cli archives hold the single static `php` executable.
    if [ ! -e "$work/root/bin/php" ] && [ -e "$work/root/php" ]; then
      mkdir -p "$work/root/bin"
      mv -- "$work/root/php" "$work/root/bin/php"
    fi
  }
}

# _dv_runtime_present TARGET HOW: true (and says so) when TARGET holds the runtime. This
# step only ever renames a finished install into place, so a bin/ without our marker was
# put there by someone else (an operator providing the runtime on a server without
# network): it is used as it is.
_dv_runtime_present() {
  local target=$1 how=$2
  if [ -e "$target/$DV_RUNTIME_MARKER" ]; then
    dv_log "$human $version $how ($(cat -- "$target/$DV_RUNTIME_MARKER"))"
  elif [ -d "$target/bin" ]; then
    dv_log "$human $version: using $target as it is (not installed by Devopness: it has no $DV_RUNTIME_MARKER)"
  else
    return 1
  fi
}

# dv_runtime_ensure LANGUAGE VERSION TARGET: TARGET holds that runtime when this returns
# (on failure the caller removes $DV_RUNTIME_WORK, the staging directory). Safe to run
# concurrently (one flock per version), side by side with other versions.
dv_runtime_ensure() {
  local language=$1 version=$2 target=$3
  local human mirror root work lockfd archive tarflag
  local rt_url="" rt_sha="" rt_full="" rt_strip=1 rt_from_source=0
  human=$(dv_runtime_human "$language")
  mirror=${DEVOPNESS_RUNTIME_MIRROR%/}
  if _dv_runtime_present "$target" "is already installed"; then return 0; fi
  for tool in curl tar sha256sum flock; do
    dv_has "$tool" || dv_fail "installing $human $version needs '$tool' on the server"
  done
  root=$(dirname -- "$target")
  mkdir -p -- "$root"
  exec {lockfd}>"$root/.$version.lock"
  if ! flock -n "$lockfd"; then
    dv_log "another deploy is installing $human $version on this server: waiting for it"
    flock -w 3000 "$lockfd" || dv_fail "timed out waiting for another deploy installing $human $version"
  fi
  if _dv_runtime_present "$target" "was installed meanwhile"; then
    exec {lockfd}>&-
    return 0
  fi
  # Staging directories of interrupted runs (only the lock holder makes them).
  rm -rf -- "$root/.$version.tmp."*
  work=$(mktemp -d "$root/.$version.tmp.XXXXXX")
  # The calling script removes it when the install stops half-way.
  DV_RUNTIME_WORK=$work
  mkdir -p -- "$work/src"
  unset -f rt_build
  "dv_runtime_source_$language"
  dv_log "installing $human $version ($rt_full) from $rt_url"
  archive="$work/archive"
  dv_runtime_fetch "$rt_url" "$archive" "$human $version ($rt_full)"
  if [ -n "$rt_sha" ]; then
    dv_runtime_verify "$archive" "$rt_sha" "$rt_url"
  else
    dv_warn "$rt_url has no published checksum (no SHA256SUMS at $mirror): installed as downloaded over TLS"
  fi
  case $rt_url in *.tar.xz) tarflag=-xJf ;; *) tarflag=-xzf ;; esac
  tar "$tarflag" "$archive" -C "$work/src" --strip-components="$rt_strip" --no-same-owner \
    || dv_fail "$rt_url is not a readable archive"
  rm -f -- "$archive"
  if [ "$rt_from_source" = 1 ]; then
    rt_build
  else
    mv -- "$work/src" "$work/root"
    if declare -F rt_build >/dev/null; then rt_build; fi
  fi
  local check
  check=$(dv_runtime_version "$language" "$work/root/bin" 2>&1) \
    || dv_fail "the $human $rt_full from $rt_url does not run on this server: $check"
  printf '%s %s from %s sha256 %s\n' "$human" "$rt_full" "$rt_url" "${rt_sha:-unverified}" \
    >"$work/root/$DV_RUNTIME_MARKER"
  rm -rf -- "$target"
  mv -T -- "$work/root" "$target"
  rm -rf -- "$work"
  DV_RUNTIME_WORK=""
  exec {lockfd}>&-
  dv_log "installed $human $version at $target: $check"
}
