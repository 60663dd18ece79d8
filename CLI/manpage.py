#!/usr/bin/env python3
"""Writes the factorconv(1) man page (roff, man macros) to stdout from the tool's own
description of its commands (`factorconv --experimental-dump-help`, swift-argument-parser's
JSON), so that the page says what the built tool does: every subcommand with its abstract,
discussion, arguments and options, and their defaults.

Usage: python3 CLI/manpage.py PATH/TO/factorconv > factorconv.1
"""

import json
import subprocess
import sys


def roff(text):
    """``text`` escaped for roff: backslashes doubled, lines that would start a request guarded."""
    lines = text.replace("\\", "\\e").split("\n")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in lines)


def flag_names(argument):
    """`-o, --output` for an option's or flag's names; the value name for a positional."""
    if argument["kind"] == "positional":
        return "\\fI%s\\fR" % argument["valueName"]
    names = ", ".join("\\fB%s%s\\fR" % ("-" if n["kind"] == "short" else "--", n["name"])
                      for n in sorted(argument.get("names", []), key=lambda n: n["kind"] != "short"))
    if argument["kind"] == "option":
        names += " \\fI%s\\fR" % argument.get("valueName", "value")
    return names


def arguments_section(arguments):
    """.TP entries for every displayed argument."""
    out = []
    for argument in arguments:
        if not argument.get("shouldDisplay", True):
            continue
        out += [".TP", flag_names(argument)]
        text = argument.get("abstract", "")
        if argument.get("discussion"):
            text += "\n" + argument["discussion"]
        if "defaultValue" in argument:
            text += " (default: %s)" % argument["defaultValue"]
        out.append(roff(text))
    return out


def synopsis(root, command):
    """`factorconv sub [options] args` with the positional arguments in order."""
    parts = ["\\fB%s %s\\fR" % (root, command["commandName"])]
    for argument in command.get("arguments", []):
        if argument.get("shouldDisplay", True) and argument["kind"] == "positional":
            parts.append("\\fI%s\\fR" % argument["valueName"])
    return " ".join(parts) + " [\\fIoptions\\fR]"


def page(info):
    """The whole man page for the dump-help JSON ``info``."""
    root = info["command"]
    name = root["commandName"]
    subcommands = [c for c in root.get("subcommands", []) if c.get("shouldDisplay", True) and c["commandName"] != "help"]
    out = ['.TH %s 1' % name.upper(), ".SH NAME", "%s \\- %s" % (name, roff(root.get("abstract", ""))),
           ".SH SYNOPSIS"]
    for command in subcommands:
        out += [".PP", synopsis(name, command)]
    out += [".SH DESCRIPTION", roff(root.get("discussion", "")).replace("\n\n", "\n.PP\n")]
    out += [".SH OPTIONS"] + arguments_section(root.get("arguments", []))
    out.append(".SH COMMANDS")
    for command in subcommands:
        out += [".SS %s" % command["commandName"], roff(command.get("abstract", ""))]
        if command.get("discussion"):
            out += [".PP", roff(command["discussion"]).replace("\n\n", "\n.PP\n")]
        out += arguments_section(command.get("arguments", []))
    out += [".SH SEE ALSO", "factorconv completion bash|zsh|fish prints the shell completion scripts."]
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    dump = subprocess.run([argv[1], "--experimental-dump-help"], check=True, capture_output=True, text=True).stdout
    sys.stdout.write(page(json.loads(dump)))


if __name__ == "__main__":
    main(sys.argv)
