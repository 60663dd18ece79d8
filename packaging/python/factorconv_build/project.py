"""What the wheel and the sdist say about the project: the version, read from the one place it is
defined (FCONV_VERSION_STRING in include/factorconv.h), and the core metadata built from
pyproject.toml's [project] table."""

import os
import re

try:
    import tomllib
except ImportError:  # Python < 3.11: pyproject.toml's build requirements bring tomli
    import tomli as tomllib

HEADER = os.path.join("include", "factorconv.h")


def version(root):
    """The library version, "MAJOR.MINOR.PATCH", from the C header under ``root``."""
    with open(os.path.join(root, HEADER), encoding="utf-8") as header:
        match = re.search(r'^#define FCONV_VERSION_STRING "(\d+\.\d+\.\d+)"$', header.read(), re.M)
    if not match:
        raise RuntimeError("%s defines no FCONV_VERSION_STRING \"MAJOR.MINOR.PATCH\"" % HEADER)
    return match.group(1)


def project_table(root):
    """pyproject.toml's [project] table."""
    with open(os.path.join(root, "pyproject.toml"), "rb") as file:
        return tomllib.load(file)["project"]


def distribution_name(root):
    """The name as wheel and sdist file names spell it (PEP 427: runs of -_. become _)."""
    return re.sub(r"[-_.]+", "_", project_table(root)["name"]).lower()


def core_metadata(root):
    """The METADATA / PKG-INFO text (core metadata 2.1) for the [project] table."""
    project = project_table(root)
    lines = ["Metadata-Version: 2.1",
             "Name: %s" % project["name"],
             "Version: %s" % version(root),
             "Summary: %s" % project["description"]]
    if "requires-python" in project:
        lines.append("Requires-Python: %s" % project["requires-python"])
    for url_name, url in project.get("urls", {}).items():
        lines.append("Project-URL: %s, %s" % (url_name, url))
    lines += ["Classifier: %s" % c for c in project.get("classifiers", [])]
    lines += ["Requires-Dist: %s" % d for d in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append("Provides-Extra: %s" % extra)
        lines += ['Requires-Dist: %s; extra == "%s"' % (r, extra) for r in requirements]
    readme = project.get("readme")
    body = ""
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(root, readme), encoding="utf-8") as file:
            body = file.read()
    return "\n".join(lines) + "\n\n" + body
