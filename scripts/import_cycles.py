#!/usr/bin/env python3
"""Import cycles between the files of each crate (`make lint`).

A file depends on another when it names an item of the other's module through a
`crate::`, `super::` or `self::` path anywhere (a `use` line, a type, a call, a macro
argument), not only in `use` lines. `pub use` re-exports are followed to where the
item is defined, and are not dependencies themselves; `mod` declarations are not
either. A `#[cfg(test)]` module inside a file counts as a module of its own: it may
test its file through what uses the file (no code of the file depends on it). Exits 1
and names the files of each cycle when there is one.

    scripts/import_cycles.py [crates-dir]   # default: crates
    scripts/import_cycles.py --self-test    # the check on crates with known cycles
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::\s*[A-Za-z_]\w*)*)(::\s*\{)?")
INLINE_MOD = re.compile(r"(#\[cfg\(test\)\]\s*)?\bmod\s+([A-Za-z_]\w*)\s*\{")
REEXPORT = re.compile(r"\bpub(?:\s*\([^)]*\))?\s+use\s+([^;]+);")


def strip(text):
    """`text` without comments and without the contents of string and char literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif re.match(r'b?r(#*)"', text[i:i + 260]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            out.append('""')
            i = n if end < 0 else end + 1 + len(m.group(1))
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def group_paths(text, start):
    """The paths of a `{ ... }` group starting just after its `{`, and where it ends."""
    paths, depth, item, i = [], 0, "", start
    while i < len(text):
        c = text[i]
        if c == "{":
            inner, i = group_paths(text, i + 1)
            prefix = item.strip().rstrip(":").strip()
            paths += [f"{prefix}::{p}" if prefix else p for p in inner]
            item = ""
            continue
        if c == "}":
            if item.strip():
                paths.append(item.strip())
            return paths, i + 1
        if c == ",":
            if item.strip():
                paths.append(item.strip())
            item = ""
        else:
            item += c
        i += 1
    return paths, i


def segments(path):
    path = re.sub(r"\s+as\s+\w+$", "", path.strip())
    return [s.strip() for s in path.split("::") if s.strip()]


class Crate:
    def __init__(self, src):
        self.files = {}  # module path (tuple) -> file
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src).with_suffix("").parts
            if rel in (("lib",), ("main",)):
                module = ()
            elif rel[-1] == "mod":
                module = rel[:-1]
            else:
                module = rel
            if rel[0] == "bin" or (rel == ("main",) and (src / "lib.rs").exists()):
                continue  # binaries reach the library as an outside crate
            self.files[module] = f
        self.texts = {m: strip(f.read_text()) for m, f in self.files.items()}
        self.aliases = {m: self.reexports(m) for m in self.files}

    def absolute(self, module, segs):
        """`segs` (starting with crate, super or self) as a path from the crate root."""
        here = list(module)
        head, rest = segs[0], segs[1:]
        if head == "crate":
            here = []
        elif head == "super":
            here = here[:-1]
            while rest and rest[0] == "super":
                here, rest = here[:-1], rest[1:]
        elif head == "self":
            while rest and rest[0] == "super":
                here, rest = here[:-1], rest[1:]
        return here + rest

    def reexports(self, module):
        aliases = {}
        for m in REEXPORT.finditer(self.texts[module]):
            body = m.group(1).strip()
            if "{" in body:
                prefix = body[: body.index("{")].rstrip(": ")
                inner, _ = group_paths(body, body.index("{") + 1)
                paths = [f"{prefix}::{p}" if prefix else p for p in inner]
            else:
                paths = [body]
            for p in paths:
                segs = segments(p)
                if not segs or segs[-1] in ("*", "self"):
                    continue
                name = re.search(r"\s+as\s+(\w+)$", p.strip())
                if segs[0] not in ("crate", "super", "self"):
                    segs = ["self"] + segs  # a child module's item, in 2018 paths
                aliases[name.group(1) if name else segs[-1]] = self.absolute(module, segs)
        return aliases

    def file_of(self, path, depth=0):
        """The module (a key of self.files) that defines the item `path` names."""
        for i in range(len(path), -1, -1):
            module = tuple(path[:i])
            if module in self.files:
                rest = path[i:]
                if rest and rest[0] in self.aliases[module] and depth < 8:
                    return self.file_of(self.aliases[module][rest[0]] + rest[1:], depth + 1)
                return module
        return ()

    def name(self, node):
        module, test = node
        return f"{self.files[module]}{' (its tests)' if test else ''}"

    def edges(self):
        """Nodes are (module, in a test module of its file); a node's set holds the
        modules it uses."""
        graph = {(m, False): set() for m in self.files}
        for module, text in self.texts.items():
            # Inline modules (`mod tests { ... }`) shift what super:: and self:: mean.
            opens = [(m.end(), m.group(2), bool(m.group(1))) for m in INLINE_MOD.finditer(text)]
            reexported = [range(m.start(), m.end()) for m in REEXPORT.finditer(text)]
            for m in PATH.finditer(text):
                if any(m.start() in r for r in reexported):
                    continue
                enclosing = [(name, test) for start, name, test in opens if start <= m.start() and inside(text, start, m.start())]
                inline = [name for name, _ in enclosing]
                node = (module, any(test for _, test in enclosing))
                graph.setdefault(node, set())
                here = module + tuple(inline)
                base = [m.group(1)] + segments(m.group(2) or "")
                paths = [base]
                if m.group(3):
                    inner, _ = group_paths(text, m.end())
                    paths = [base + segments(p) for p in inner]
                for segs in paths:
                    target = self.file_of(self.absolute(here, segs))
                    if target != module:
                        graph[node].add((target, False))
        return graph


def inside(text, start, pos):
    """Whether `pos` is within the braces opened just before `start`."""
    depth = 1
    for c in text[start:pos]:
        depth += c == "{"
        depth -= c == "}"
        if depth == 0:
            return False
    return True


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def self_test():
    """The check on small crates whose cycles are known: each way of naming a module
    found, each thing that is not a dependency left out."""
    import tempfile

    cases = {
        "a use group": ({"a": "use crate::{b::B, c};", "b": "use crate::a::A;"}, True),
        "a path in a signature, no use": ({"a": "fn f(x: crate::b::B) {}", "b": "use super::a::A;"}, True),
        "super:: from a child file": ({"p/mod.rs": "mod q; fn f() { q::g() }\nuse self::q::G;", "p/q.rs": "use super::P;"}, True),
        "through a re-export": ({"lib.rs": "mod a; mod b; pub use a::A;", "a": "use crate::b::B;", "b": "fn f() -> crate::A {}"}, True),
        "one way only": ({"a": "use crate::b::B;", "b": "pub struct B;"}, False),
        "a test module using its file's caller": ({"a": "pub struct A;\n#[cfg(test)]\nmod tests { use crate::b::B; }", "b": "use crate::a::A;"}, False),
        "paths in comments and strings": ({"a": "// crate::b::B\nconst S: &str = \"crate::b::B\";", "b": "use crate::a::A;"}, False),
        "a re-export alone": ({"lib.rs": "mod a; mod b;", "a": "pub use crate::b::B;", "b": "use crate::a::A;"}, False),
    }
    failures = 0
    for name, (files, cyclic) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            for path, text in {"lib.rs": "mod a; mod b; mod c; mod p;", **files}.items():
                f = src / (path if path.endswith(".rs") else path + ".rs")
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(text + "\n")
            found = bool(cycles(Crate(src).edges()))
            if found != cyclic:
                failures += 1
                print(f"self-test: {name}: a cycle {'missed' if cyclic else 'found where there is none'}")
    if failures:
        sys.exit(1)
    print(f"self-test: {len(cases)} cases as expected")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    crates = Path(sys.argv[1] if len(sys.argv) > 1 else "crates")
    failed = False
    for src in sorted(crates.glob("*/src")):
        crate = Crate(src)
        graph = crate.edges()
        for component in cycles(graph):
            failed = True
            print(f"import cycle in {src.parent.name}: " + " <-> ".join(sorted(map(crate.name, component))))
            for node in sorted(component):
                uses = sorted(crate.name(t) for t in graph[node] if t in component)
                print(f"  {crate.name(node)} uses {', '.join(uses)}")
    if failed:
        sys.exit(1)
    print(f"no import cycle between the files of any crate in {crates}/")


if __name__ == "__main__":
    main()
