# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the FROM lines of a Dockerfile the way the builder reads them. Pure, no I/O.

Handles parser directives (`# escape=`), comments, line continuations, heredocs, global
`ARG` defaults (and build args overriding them) substituted into `FROM` with the builder's
`$V`, `${V}`, `${V:-x}`, `${V-x}`, `${V:+x}`, `${V+x}` forms, `--platform`, `AS` aliases
(a FROM naming an earlier stage is not a base image) and digests. For every stage it says
which base image it ends at and which runtime (python/node) and version that image carries.
"""
from __future__ import annotations

import re

from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import parse_version

# Repository names (last path component) of images that carry a runtime, with the version in the tag.
DEFAULT_RUNTIME_IMAGES = {"python": ("python",), "node": ("node",)}

# Args the builder defines itself; a FROM using them is not "unresolved".
AUTOMATIC_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
                  "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT")

# Tags that name a moving target rather than a version.
_FLOATING_TAG_RE = re.compile(r"^(latest|lts|current|alpine|slim|bookworm|bullseye|buster|trixie)(-|$)")

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC_RE = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


class DockerfileError(ValueError):
    pass


def logical_lines(text):
    """Yield (lineno, instruction_line) with comments dropped and continuations joined.

    lineno is the 1-based line where the instruction starts. Heredoc bodies are consumed
    (never read as instructions).
    """
    lines = text.splitlines()
    escape = "\\"
    index = 0
    # Parser directives: only at the very top, before any comment, blank or instruction.
    while index < len(lines):
        match = _DIRECTIVE_RE.match(lines[index].strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
        index += 1

    current, start = None, None
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # comments, also inside a continued instruction
        if current is None:
            if not stripped:
                continue
            current, start = "", index
        elif not stripped:
            continue  # empty continuation line: ignored by the builder
        body = raw.rstrip()
        if body.endswith(escape):
            current += body[:-1]  # the builder joins with nothing in between
            continue
        current += body
        instruction = current.strip()
        current = None
        heredocs = _HEREDOC_RE.finditer(instruction) if instruction[:4].upper() in ("RUN ", "COPY", "ADD ") else ()
        for match in heredocs:
            strip_tabs, word = match.group(1) == "-", match.group(3)
            while index < len(lines):
                body_line = lines[index]
                index += 1
                if (body_line.lstrip("\t") if strip_tabs else body_line) == word:
                    break
        yield start, instruction
    if current is not None and current.strip():
        yield start, current.strip()


def substitute(text, variables, unresolved=None):
    """Expand $V, ${V}, ${V:-x}, ${V-x}, ${V:+x}, ${V+x}, ${V:?x}, ${V?x} with `variables`.

    Words may nest (`${A:-${B}}`). Names not in `variables` expand to '' (as the builder
    does) and are added to `unresolved`; the builder's automatic platform args are kept as
    written. An escaped dollar (\\$) stays a literal dollar.
    """
    if unresolved is None:
        unresolved = []
    out = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if char != "$":
            out.append(char)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "{":
            close = _matching_brace(text, i + 1)
            if close < 0:
                out.append(text[i:])
                break
            out.append(_expand_braced(text[i + 2:close], text[i:close + 1], variables, unresolved))
            i = close + 1
            continue
        match = _NAME_RE.match(text, i + 1)
        if not match:
            out.append(char)
            i += 1
            continue
        out.append(_lookup(match.group(0), "$" + match.group(0), variables, unresolved))
        i = match.end()
    return "".join(out)


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _matching_brace(text, open_index):
    depth = 0
    for index in range(open_index, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _lookup(name, written, variables, unresolved):
    value = variables.get(name)
    if value is not None:
        return value
    if name in AUTOMATIC_ARGS:
        return written
    if name not in unresolved:
        unresolved.append(name)
    return ""


def _expand_braced(inner, written, variables, unresolved):
    match = _NAME_RE.match(inner)
    if not match:
        return written
    name, rest = match.group(0), inner[match.end():]
    if not rest:
        return _lookup(name, written, variables, unresolved)
    op_match = re.match(r":?[-+?]", rest)
    if not op_match:
        return written  # pattern forms (#, %, /) are left alone
    op, word = op_match.group(0), rest[op_match.end():]
    value = variables.get(name)
    empty = value is None or (op.startswith(":") and value == "")
    if op in (":-", "-"):
        return substitute(word, variables, unresolved) if empty else value
    if op in (":+", "+"):
        return "" if empty else substitute(word, variables, unresolved)
    if empty:  # :? and ?: the builder would fail here
        if name not in unresolved:
            unresolved.append(name)
        return ""
    return value


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_arg(rest):
    """`ARG A=1 B C="x y"` -> [('A', '1'), ('B', None), ('C', 'x y')]."""
    out = []
    for token in re.findall(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""", rest):
        name, sep, value = token.partition("=")
        out.append((name, _unquote(value) if sep else None))
    return out


def parse_image_ref(ref):
    """Split an image reference into registry, repository, name, tag and digest."""
    image = ref.strip()
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last_slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > last_slash:
        image, tag = image[:colon], image[colon + 1:]
    parts = image.split("/")
    registry = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts[0]
        parts = parts[1:]
    return {
        "reference": ref.strip(),
        "registry": registry,
        "repository": "/".join(parts),
        "name": parts[-1] if parts else "",
        "tag": tag,
        "digest": digest,
    }


def runtime_of_image(image_ref, runtime_images=None):
    """(runtime, version) the base image carries by its name and tag, e.g. ('python', '3.12').

    version is None when the tag floats (latest, lts, slim) or is absent.
    """
    runtime_images = runtime_images or DEFAULT_RUNTIME_IMAGES
    parsed = image_ref if isinstance(image_ref, dict) else parse_image_ref(image_ref)
    name = parsed["name"].lower()
    for runtime, names in runtime_images.items():
        if name in [n.lower() for n in names]:
            tag = parsed["tag"] or ""
            version = None if (not tag or _FLOATING_TAG_RE.match(tag)) else parse_version(tag)
            return runtime, version
    return None, None


def _parse_from(rest):
    """FROM [--flag=value ...] image [AS name] -> (flags, image, alias)."""
    tokens = rest.split()
    flags = {}
    while tokens and tokens[0].startswith("--"):
        flag, dummy, value = tokens.pop(0)[2:].partition("=")
        flags[flag.lower()] = value
    if not tokens:
        raise DockerfileError("FROM without an image")
    image = tokens[0]
    alias = None
    if len(tokens) >= 3 and tokens[1].lower() == "as":
        alias = tokens[2]
    return flags, image, alias


def parse_dockerfile(text, build_args=None, target=None, runtime_images=None):
    """Every stage of a Dockerfile, resolved.

    Returns {stages: [...], final_stage: index, global_args: {...}, base_images: [...],
    errors: [...]}. Each stage: index, lineno, name (alias or None), platform, from (as
    written), image (after substitution), from_stage (index of the earlier stage it builds
    on, or None), base_image (the image the stage chain ends at), digest, runtime, version,
    unresolved_args.
    """
    build_args = dict(build_args or {})
    global_args = {}
    stages = []
    errors = []
    for lineno, line in logical_lines(text):
        keyword, dummy, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            for name, default in parse_arg(rest):
                if default is not None:
                    default = substitute(default, global_args)
                global_args[name] = build_args.get(name, default)
        elif keyword == "FROM":
            try:
                stages.append(_stage(len(stages), lineno, rest, global_args, stages, runtime_images))
            except DockerfileError as exc:
                errors.append("line %d: %s" % (lineno, exc))
    final = len(stages) - 1 if stages else None
    if target is not None:
        matches = [stage["index"] for stage in stages if (stage["name"] or "").lower() == str(target).lower()]
        if matches:
            final = matches[0]
        else:
            errors.append("build target %r is not a stage of this Dockerfile" % target)
    bases = [stage["base_image"] for stage in stages if stage["from_stage"] is None]
    return {"stages": stages, "final_stage": final, "global_args": global_args,
            "base_images": bases, "errors": errors}


def _stage(index, lineno, rest, global_args, stages, runtime_images):
    unresolved = []
    expanded = substitute(rest, global_args, unresolved)
    flags, image, alias = _parse_from(expanded)
    dummy_flags, written, dummy_alias = _parse_from(rest)
    from_stage = None
    for earlier in stages:
        if earlier["name"] and earlier["name"].lower() == image.lower():
            from_stage = earlier["index"]
    stage = {
        "index": index, "lineno": lineno, "name": alias, "platform": flags.get("platform"),
        "from": written, "image": image, "from_stage": from_stage,
        "unresolved_args": unresolved,
    }
    if from_stage is not None:
        parent = stages[from_stage]
        stage.update(base_image=parent["base_image"], digest=parent["digest"],
                     runtime=parent["runtime"], version=parent["version"])
    else:
        ref = parse_image_ref(image)
        runtime, version = (None, None) if image.lower() == "scratch" else runtime_of_image(ref, runtime_images)
        stage.update(base_image=image, digest=ref["digest"], runtime=runtime, version=version)
    return stage


def summarize(parsed):
    """The final stage's base/runtime/version and the runtimes used by any stage."""
    stages = parsed["stages"]
    final = stages[parsed["final_stage"]] if parsed["final_stage"] is not None else None
    build_runtimes = sorted(set("%s %s" % (s["runtime"], s["version"] or "?") for s in stages if s["runtime"]))
    return {
        "final_base_image": final["base_image"] if final else None,
        "final_runtime": final["runtime"] if final else None,
        "final_version": final["version"] if final else None,
        "final_stage_name": final["name"] if final else None,
        "build_runtimes": build_runtimes,
    }
