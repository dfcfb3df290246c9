"""Build the fixture images the tests and the demo stack run on: locally, cached by recipe.

Run by `make images` (after the engine answers) as `.venv/bin/python tests/bootstrap/images.py`.
No registry is reachable, so nothing is ever pulled:
  - rootfs images: a Debian rootfs made by mmdebstrap, streamed into `docker import`;
  - the busybox image: `docker build` of a FROM-scratch Dockerfile with Debian's busybox-static.

Recipes live in tests/fixtures/images/<name>/. Each image is labelled
org.homeiq.phase0.recipe=<sha256 of its recipe files, extra inputs and builder code> and tagged
`:<first 12 hex of that hash>` and `:latest`. When an image with the hash tag and the matching label
exists the build is skipped, so re-running is cheap. One line per image: built / cached, seconds.

Needs root + apt on a fresh Debian machine only to install mmdebstrap and busybox-static.
Environment: PHASE0_DEBIAN_MIRROR overrides the Debian mirror (default: the host's, else deb.debian.org).
"""
import concurrent.futures
import glob
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(ROOT, "tests", "fixtures", "images")
TAG_PREFIX = "phase0-fixture/"
LABEL = "org.homeiq.phase0.recipe"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_PACKAGES = {"mmdebstrap": "mmdebstrap", "busybox": "busybox-static"}
BUILD_TIMEOUT = 900

_print_lock = threading.Lock()


class BuildError(Exception):
    pass


def say(line):
    with _print_lock:
        print(line, flush=True)


def run(cmd, **kwargs):
    """Run a command, capturing text output; raise BuildError with its stderr when it fails."""
    kwargs.setdefault("timeout", BUILD_TIMEOUT)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise BuildError("%s failed (exit %d): %s"
                         % (" ".join(cmd[:3]), proc.returncode, _tail(proc.stderr or proc.stdout)))
    return proc.stdout


def _tail(text, lines=15):
    return "\n".join((text or "").strip().splitlines()[-lines:])


# ---------------------------------------------------------------- host tools


def busybox_static_binary():
    """Path of the statically linked busybox from Debian's busybox-static, or None."""
    try:
        files = subprocess.run(["dpkg-query", "-L", "busybox-static"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    for path in files:
        if path.endswith("/bin/busybox") and os.path.isfile(path):
            return path
    return None


def missing_tools(need_mmdebstrap):
    missing = []
    if need_mmdebstrap and not shutil.which("mmdebstrap"):
        missing.append(APT_PACKAGES["mmdebstrap"])
    if busybox_static_binary() is None:
        missing.append(APT_PACKAGES["busybox"])
    return missing


def install_packages(packages):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError("missing Debian packages %s and cannot install them (need root and apt-get); "
                         "install them and re-run" % " ".join(packages))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say("images: apt-get install %s" % " ".join(packages))
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages, env=env)


def host_debian_mirror():
    """The Debian mirror the host's apt uses (so the fixtures come from the same place)."""
    override = os.environ.get("PHASE0_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    sources = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
        + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    uri = re.compile(r"^\s*(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)(\S+)", re.MULTILINE)
    for path in sources:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        for match in uri.finditer(text):
            candidate = match.group(1).rstrip("/")
            # The main archive, not the security one nor a third-party repo that merely lives on a Debian host.
            if candidate.endswith("/debian") and "security" not in candidate:
                return candidate
    return DEFAULT_MIRROR


# ---------------------------------------------------------------- docker helpers


def docker_label(ref):
    """The recipe label of an existing image, '' when it has none, None when the image is absent."""
    proc = subprocess.run(["docker", "image", "inspect", "--format",
                           '{{ index .Config.Labels "%s" }}' % LABEL, ref],
                          capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        return None
    value = proc.stdout.strip()
    return "" if value == "<no value>" else value


def tag_latest_and_prune(name, hash_tag):
    """Point :latest at the current build and untag older recipe builds (disk stays bounded)."""
    run(["docker", "tag", "%s:%s" % (name, hash_tag), "%s:latest" % name])
    tags = run(["docker", "images", "--format", "{{.Tag}}", name]).split()
    for tag in tags:
        if tag not in ("latest", hash_tag, "<none>"):
            # Best effort: an old tag still used by a container stays until that container is gone.
            subprocess.run(["docker", "rmi", "%s:%s" % (name, tag)], capture_output=True, timeout=120, check=False)


# ---------------------------------------------------------------- builders


def mmdebstrap_command(suite, include, mirror):
    return ["mmdebstrap", "--quiet", "--variant=apt", "--format=tar",
            "--include=" + ",".join(include),
            # Documentation is dead weight in a fixture image; keep the copyright files.
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
            suite, "-", mirror]


def build_rootfs(image, recipe_hash, hash_tag):
    """mmdebstrap a Debian rootfs and stream it straight into `docker import` (no temp tarball)."""
    with open(os.path.join(image["dir"], "recipe.json"), encoding="utf-8") as handle:
        recipe = json.load(handle)
    mirror = host_debian_mirror()
    ref = "%s:%s" % (image["name"], hash_tag)
    changes = list(recipe.get("changes", [])) + ["LABEL %s=%s" % (LABEL, recipe_hash)]
    import_cmd = ["docker", "import"]
    for change in changes:
        import_cmd += ["--change", change]
    import_cmd += ["-", ref]
    with tempfile.TemporaryFile(mode="w+") as strap_err, tempfile.TemporaryFile(mode="w+") as import_err:
        # Its own session: when its output pipe breaks, mmdebstrap signals its whole process group,
        # which would otherwise take this builder and the shell that started it down too.
        strap = subprocess.Popen(mmdebstrap_command(recipe["suite"], recipe["include"], mirror),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=strap_err,
                                 start_new_session=True)
        importer = subprocess.Popen(import_cmd, stdin=strap.stdout, stdout=subprocess.DEVNULL,
                                    stderr=import_err)
        strap.stdout.close()  # the importer owns the pipe now; mmdebstrap sees EPIPE if it dies
        try:
            strap_rc = strap.wait(timeout=BUILD_TIMEOUT)
            import_rc = importer.wait(timeout=120)
        except subprocess.TimeoutExpired:
            strap.kill()
            importer.kill()
            raise BuildError("mmdebstrap %s from %s did not finish within %d s" % (recipe["suite"], mirror, BUILD_TIMEOUT))
        if import_rc != 0:
            # A refused --change or a full disk stops the importer first; mmdebstrap then only
            # reports the broken pipe, so the importer's reason comes first.
            import_err.seek(0)
            raise BuildError("docker import failed (exit %d): %s" % (import_rc, _tail(import_err.read())))
        if strap_rc != 0:
            strap_err.seek(0)
            # The importer may have committed a truncated rootfs; never leave it under our tag.
            subprocess.run(["docker", "rmi", ref], capture_output=True, timeout=120, check=False)
            raise BuildError("could not fetch Debian %s from %s with mmdebstrap (exit %d)%s:\n%s"
                             % (recipe["suite"], mirror, strap_rc, _suite_hint(recipe["suite"]), _tail(strap_err.read())))


def _suite_hint(suite):
    if suite in ("buster", "bullseye"):
        return ("; %s may have moved to archive.debian.org: set PHASE0_DEBIAN_MIRROR to a mirror "
                "that still carries it" % suite)
    return ""


def build_dockerfile(image, recipe_hash, hash_tag):
    """Classic `docker build` of the recipe's Dockerfile in a context holding only what it COPYs."""
    context = tempfile.mkdtemp(prefix="phase0-image-")
    try:
        shutil.copy2(os.path.join(image["dir"], "Dockerfile"), context)
        for name, path in image["context_files"]().items():
            shutil.copy2(path, os.path.join(context, name))
        env = dict(os.environ, DOCKER_BUILDKIT="0")  # BuildKit may be unavailable; the classic builder is enough
        run(["docker", "build", "--quiet", "--label", "%s=%s" % (LABEL, recipe_hash),
             "-t", "%s:%s" % (image["name"], hash_tag), context], env=env)
    finally:
        shutil.rmtree(context, ignore_errors=True)


def busybox_context():
    binary = busybox_static_binary()
    if binary is None:
        raise BuildError("busybox-static is not installed")
    return {"busybox": binary}


ROOTFS_CODE = (mmdebstrap_command, build_rootfs)
DOCKERFILE_CODE = (build_dockerfile, busybox_context)

IMAGES = [
    {"name": TAG_PREFIX + "debian-python", "builder": build_rootfs, "code": ROOTFS_CODE},
    {"name": TAG_PREFIX + "debian-python-old", "builder": build_rootfs, "code": ROOTFS_CODE},
    {"name": TAG_PREFIX + "node", "builder": build_rootfs, "code": ROOTFS_CODE},
    {"name": TAG_PREFIX + "debian-systemd", "builder": build_rootfs, "code": ROOTFS_CODE},
    {"name": TAG_PREFIX + "busybox", "builder": build_dockerfile, "code": DOCKERFILE_CODE,
     "context_files": busybox_context},
]
for _image in IMAGES:
    _image["dir"] = os.path.join(RECIPES, _image["name"][len(TAG_PREFIX):])


# ---------------------------------------------------------------- cache key


def recipe_hash(image):
    """sha256 over the recipe files, the files copied into the build, and the builder's code."""
    digest = hashlib.sha256()

    def feed(kind, name, data):
        digest.update(("%s %s %d\n" % (kind, name, len(data))).encode())
        digest.update(data)

    for path in sorted(glob.glob(os.path.join(image["dir"], "**"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                feed("recipe", os.path.relpath(path, image["dir"]), handle.read())
    for name, path in sorted(image.get("context_files", dict)().items()):
        with open(path, "rb") as handle:
            feed("context", name, handle.read())
    for func in image["code"]:
        feed("code", func.__name__, inspect.getsource(func).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- main


def ensure_image(image, recipe_hash_value):
    """Build one image unless an image with its hash tag and label exists. Returns 'built'/'cached'."""
    hash_tag = recipe_hash_value[:12]
    if docker_label("%s:%s" % (image["name"], hash_tag)) == recipe_hash_value:
        state = "cached"
    else:
        image["builder"](image, recipe_hash_value, hash_tag)
        if docker_label("%s:%s" % (image["name"], hash_tag)) != recipe_hash_value:
            raise BuildError("built %s:%s but it does not carry %s=%s" % (image["name"], hash_tag, LABEL, recipe_hash_value))
        state = "built"
    tag_latest_and_prune(image["name"], hash_tag)
    return state


def main():
    started = time.monotonic()
    if subprocess.run(["docker", "version"], capture_output=True, timeout=60, check=False).returncode != 0:
        print("images: ERROR: no Docker engine answers; run tests/bootstrap/engine.sh (make engine) first",
              file=sys.stderr)
        return 2

    # Hashes first: busybox's hash covers the binary, so busybox-static must be there to compute it.
    try:
        missing = missing_tools(need_mmdebstrap=False)
        if missing:
            install_packages(missing)
        hashes = {image["name"]: recipe_hash(image) for image in IMAGES}
        todo = [image for image in IMAGES
                if docker_label("%s:%s" % (image["name"], hashes[image["name"]][:12])) != hashes[image["name"]]]
        missing = missing_tools(need_mmdebstrap=any(image["builder"] is build_rootfs for image in todo))
        if missing:
            install_packages(missing)
    except BuildError as exc:
        print("images: ERROR: %s" % exc, file=sys.stderr)
        return 1

    failures = []

    def one(image):
        t0 = time.monotonic()
        try:
            state = ensure_image(image, hashes[image["name"]])
        except (BuildError, OSError, subprocess.SubprocessError) as exc:
            failures.append((image["name"], exc))
            say("%-42s FAILED  %6.1f s" % (image["name"], time.monotonic() - t0))
            return
        say("%-42s %-7s %6.1f s  (recipe %s)" % (image["name"] + ":latest", state,
                                                 time.monotonic() - t0, hashes[image["name"]][:12]))

    # Downloads and dpkg runs overlap well even on two cores; four builds at once is fine.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(IMAGES)) as pool:
        list(pool.map(one, IMAGES))

    for name, exc in failures:
        print("images: ERROR: %s: %s" % (name, exc), file=sys.stderr)
    say("images: %d image(s) ready in %.1f s" % (len(IMAGES) - len(failures), time.monotonic() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
