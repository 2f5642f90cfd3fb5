#!/usr/bin/env python3
"""Public API of the library modules, from symbol graphs of the debug build.

  api-check.py check  DIR   compare DIR/<Module>.symbols.json with api/<Module>.txt
  api-check.py update DIR   rewrite api/<Module>.txt (removals need a note in api/CHANGES.md)

Each line of api/<Module>.txt is one public symbol: its path and its
declaration. `check` fails when a listed symbol is gone or changed (a
removal), when a new one is not listed yet, or when a public symbol has no
doc comment. `update` refuses to drop a symbol unless api/CHANGES.md names it.
"""
import json, os, sys

MODULES = ["XDP", "XDPControl", "XDPService", "Packet"]
# Requirements of standard protocols: their documentation is inherited.
INHERITED = {"description", "debugDescription", "hash(into:)", "==(_:_:)", "<(_:_:)", "init(from:)", "encode(to:)",
             "hashValue", "rawValue", "init(rawValue:)", "allCases", "startIndex", "endIndex", "subscript(_:)",
             "makeAsyncIterator()", "next()", "run()", "Element", "Failure", "AsyncIterator", "RawValue", "AllCases",
             "Index", "Indices", "SubSequence", "Iterator", "id"}


def symbols(path):
    graph = json.load(open(path))
    lines, undocumented = {}, []
    for symbol in graph["symbols"]:
        if symbol.get("accessLevel") not in ("public", "open"):
            continue
        name = ".".join(symbol["pathComponents"])
        declaration = "".join(f["spelling"] for f in symbol.get("declarationFragments", []))
        declaration = " ".join(declaration.split())
        lines[f"{name} | {declaration}"] = name
        if "docComment" not in symbol and symbol["pathComponents"][-1] not in INHERITED:
            undocumented.append(name)
    return lines, sorted(set(undocumented))


def report(title, mark, lines):
    """Prints a titled list; returns whether there was anything to list."""
    if lines:
        print(title.format(len(lines)))
        for line in lines:
            print(f"  {mark} {line}")
    return bool(lines)


def main():
    mode, directory = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    changes_path = os.path.join(root, "api", "CHANGES.md")
    changes = open(changes_path).read() if os.path.exists(changes_path) else ""
    failed = False
    for module in MODULES:
        graph = os.path.join(directory, f"{module}.symbols.json")
        current, undocumented = symbols(graph)
        listed_path = os.path.join(root, "api", f"{module}.txt")
        listed = set(open(listed_path).read().splitlines()) if os.path.exists(listed_path) else set()
        removed = sorted(listed - set(current))
        added = sorted(set(current) - listed)
        if mode == "update":
            unexplained = [line for line in removed if line.split(" | ")[0] not in changes]
            if unexplained:
                print(f"{module}: public symbols would disappear without a note in api/CHANGES.md:")
                for line in unexplained:
                    print(f"  - {line}")
                print("  name each in api/CHANGES.md (what replaces it, from which version), then run make api-update again")
                failed = True
                continue
            with open(listed_path, "w") as out:
                out.write("\n".join(sorted(current)) + "\n")
            print(f"{module}: {len(current)} public symbols ({len(added)} added, {len(removed)} removed)")
        else:
            failed |= report(f"{module}: {{}} public symbols removed or changed (a breaking change):", "-", removed)
            failed |= report(f"{module}: {{}} public symbols not yet in api/{module}.txt:", "+", added)
            if removed or added:
                print("  if intended: note removals in api/CHANGES.md, then make api-update")
        failed |= report(f"{module}: {{}} public symbols without a doc comment:", "?", undocumented)
    if not failed and mode == "check":
        print("api-check: public API matches api/*.txt; every public symbol documented")
    sys.exit(1 if failed else 0)


main()
