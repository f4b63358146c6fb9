#!/usr/bin/env python3
"""Structure figures for src/: lines, the longest functions and module import circles.

Used for issue 20's before/after note. Usage: python3 scripts/code-stats.py [--top N], from the checkout to measure.

- lines: every line, and lines that are neither blank nor only a comment;
- functions: from the `fn` line to its closing brace, counted by brace depth
  (strings and comments are skipped, so braces inside them do not count);
- circles: a file-level graph where `use crate::a::b` (or `super::`) in file X adds an
  arrow X -> the file that defines module a::b; circles are its strongly connected
  components of size > 1 (Tarjan).
"""
import os
import re
import sys

# src/ of the current folder when it has one (so an older checkout can be measured), else this repository's.
SRC = "src" if os.path.isdir("src") else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def strip(text):
    """Text with comments and string/char literal contents blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r(#*)"', text[i:i + 10]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end
            out.append('""' + "\n" * text[i:end].count("\n"))
            i = end + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text[i:j].count("\n"))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x..'", text[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x..'", text[i:i + 12])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def rust_files():
    for root, _, files in os.walk(SRC):
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(root, f)


def functions(path):
    code = strip(open(path, encoding="utf-8").read())
    lines = code.split("\n")
    found = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", code):
        start = code.count("\n", 0, m.start())
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body
        depth, k = 0, brace
        while k < len(code):
            if code[k] == "{":
                depth += 1
            elif code[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        end = code.count("\n", 0, k)
        found.append((end - start + 1, m.group(1), start + 1))
    del lines
    return found


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def circles(files):
    mods = {tuple(module_of(f)): f for f in files}
    graph = {f: set() for f in files}
    for f in files:
        me = module_of(f)
        is_dir_mod = os.path.basename(f) in ("mod.rs", "lib.rs")
        code = strip(open(f, encoding="utf-8").read())
        for m in re.finditer(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", code):
            parts = m.group(2).split("::")[1:]
            if m.group(1) == "crate":
                base = []
            else:
                base = me if is_dir_mod else me[:-1]
                base = base[:-1]
            path = base + parts
            while path and tuple(path) not in mods:
                path = path[:-1]
            if path:
                target = mods[tuple(path)]
                # a parent module's mod.rs re-exporting its children is not a dependency
                if target != f and not (tuple(path) == tuple(me[:len(path)]) and os.path.basename(target) == "mod.rs" and len(path) < len(me)):
                    graph[f].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(os.path.relpath(c, SRC) for c in comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 10
    files = sorted(rust_files())
    total = code_lines = 0
    for f in files:
        text = open(f, encoding="utf-8").read()
        total += text.count("\n")
        code_lines += sum(1 for l in strip(text).split("\n") if l.strip())
    print(f"src: {len(files)} files, {total} lines, {code_lines} non-blank non-comment")
    fns = sorted(((n, os.path.relpath(f, SRC), name, line) for f in files for n, name, line in functions(f)), reverse=True)
    over = [x for x in fns if x[0] > 100]
    print(f"functions over 100 lines: {len(over)}")
    for n, f, name, line in fns[:top]:
        print(f"  {n:4d}  {f}:{line}  {name}")
    cs = circles(files)
    print(f"import circles: {len(cs)}")
    for c in cs:
        print("  " + " <-> ".join(c))


if __name__ == "__main__":
    main()
