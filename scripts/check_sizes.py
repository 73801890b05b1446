#!/usr/bin/python3
"""Reports source files over 500 lines and functions over 80 lines.

    scripts/check_sizes.py [--max-file-lines N] [--max-function-lines N] [PATH ...]

PATHs (files or folders; default: src and kernels beside this script) are searched for
.cpp/.hpp/.h/.cc files. A function's length is counted as clang-tidy's
readability-function-size counts it: the line of its closing brace minus the line of its
opening brace. Exits 1 and prints one line per problem (path:line: what), 0 when all fit.

Written for clang-formatted code: comments, string and character literals (raw strings
included) and preprocessor lines are blanked first, then braces are matched. A brace at
namespace or class scope opens a function body when the text before it ends in a parameter
list (optionally followed by qualifiers, a trailing return type or a constructor's
initializer list); braces inside a function belong to it (lambdas, local classes).
Exceptions, for tables: "NOLINT(readability-function-size)" on a function's first line or
the line before it, and "check_sizes: long file" in a file's first 20 lines.
"""
import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc")
CONTROL = re.compile(r"^(if|for|while|switch|catch|do|else|try)\b")
TYPE_SCOPE = re.compile(r"^(?:\[\[[^\]]*\]\]\s*)*(?:(?:typedef|inline)\s+)?(class|struct|union|enum)\b")
NAMESPACE = re.compile(r"^(?:inline\s+)?namespace\b|^extern\s*\"\"")
TEMPLATE_PREFIX = re.compile(r"^template\s*<")
# After the parameter list: qualifiers, noexcept(...), a trailing return type, requires, or a
# constructor's initializer list (whose own brace-initializers are kept as "{}").
TAIL = re.compile(
    r"\)\s*(?:(?:const|volatile|noexcept|override|final|mutable|&&|&|->\s*[\w:<>,\s*&\[\]]+"
    r"|noexcept\s*\([^()]*\)|requires\b[^{]*|\[\[[^\]]*\]\])\s*)*"
    r"(?::\s*(?:[\w:<>]+\s*(?:\((?:[^()]|\([^()]*\))*\)|\{\})\s*,?\s*)+)?$"
)
NAME = re.compile(r"(operator\s*(?:\(\)|[^\s(]+)|[A-Za-z_~][\w:~]*)\s*(?:<[^()]*>)?\s*\(")
NOT_NAMES = {"alignas", "decltype", "__attribute__", "noexcept", "requires", "sizeof"}


def blank_code(text):
    """text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":  # a preprocessor line, with its continuations
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        line_start = c == "\n"
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\\s]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator: 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + c + " " * (j - i - 2) if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_template_prefix(header):
    while TEMPLATE_PREFIX.match(header):
        depth, k = 0, header.index("<")
        for k in range(k, len(header)):
            depth += {"<": 1, ">": -1}.get(header[k], 0)
            if depth == 0:
                break
        header = header[k + 1:].lstrip()
    return header


def classify(header):
    """What a brace opened at namespace or class scope after `header` opens."""
    h = " ".join(header.split())
    if NAMESPACE.match(h):
        return "namespace"
    h = strip_template_prefix(h)
    if TYPE_SCOPE.match(h):
        return "class"
    if CONTROL.match(h):
        return "other"
    if "(" in h and TAIL.search(h) and not h.rstrip().endswith("="):
        return "function"
    return "init"  # an initializer: braces in a variable's or member's initializer


def function_name(header):
    for m in NAME.finditer(" ".join(header.split())):
        if m.group(1) not in NOT_NAMES and not m.group(1).startswith("TMLP_"):
            return m.group(1)
    return "?"


def functions(text):
    """(name, first line, opening brace line, closing brace line) of each function in text."""
    code = blank_code(text)
    stack = []  # per open brace: (kind, name, header line, open line)
    header, header_line, line = "", None, 1
    found = []
    for c in code:
        if c == "\n":
            line += 1
            header += " "
            continue
        in_function = any(kind == "function" for kind, *_ in stack)
        if c == "{":
            if in_function:
                stack.append(("inner", None, None, line))
            else:
                kind = classify(header)
                stack.append((kind, function_name(header), header_line or line, line))
                if kind == "init":
                    continue  # the initializer's text stays part of the statement
            header, header_line = "", None
        elif c == "}":
            if not stack:
                continue
            kind, name, first, opened = stack.pop()
            if kind == "function":
                found.append((name, first, opened, line))
            if kind == "init" and not in_function:
                header += "{}"
                continue
            header, header_line = "", None
        elif c == ";":
            if not in_function and stack and stack[-1][0] == "init":
                continue
            header, header_line = "", None
        elif not in_function:
            if header_line is None and not c.isspace():
                header_line = line
            header += c
    return found


def sources(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SOURCE_SUFFIXES):
                    yield os.path.join(root, f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-file-lines", type=int, default=500)
    ap.add_argument("--max-function-lines", type=int, default=80)
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()
    paths = a.paths or [os.path.join(root, "src"), os.path.join(root, "kernels")]
    problems = 0
    for path in sources(paths):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        lines = text.split("\n")
        n_lines = len(lines) - (1 if text.endswith("\n") else 0)
        shown = os.path.relpath(path, root) if path.startswith(root) else path
        if n_lines > a.max_file_lines and not any("check_sizes: long file" in l for l in lines[:20]):
            print(f"{shown}: {n_lines} lines (limit {a.max_file_lines})")
            problems += 1
        for name, first, opened, closed in functions(text):
            length = closed - opened
            allowed = any(
                "NOLINT(readability-function-size)" in lines[k - 1]
                for k in (first - 1, first, opened) if 1 <= k <= len(lines)
            )
            if length > a.max_function_lines and not allowed:
                print(f"{shown}:{first}: function '{name}' is {length} lines (limit {a.max_function_lines})")
                problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
