#!/usr/bin/env python3
"""Exclusive instruction counts of a callgrind output file, per library and per function,
divided by a number of calls: callgrind_summary.py FILE CALLS [TOP]."""
import collections
import re
import sys


def main():
    path, calls = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    names = {"ob": {}, "fn": {}, "fl": {}}

    def name(kind, value):
        # Names are compressed: "(id) name" the first time, "(id)" after.
        m = re.match(r"\((\d+)\)(?: (.*))?", value)
        if not m:
            return value
        key, text = m.groups()
        if text is not None:
            names[kind][key] = text
        return names[kind].get(key, "?" + key)

    by_function = collections.Counter()
    by_object = collections.Counter()
    object_of = {}
    obj = fn = None
    call_line = False
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line[0] == "#":
            continue
        key, _, value = line.partition("=")
        if key == "ob":
            obj = name("ob", value)
        elif key == "fn":
            fn = name("fn", value)
            object_of[fn] = obj
        elif key == "cob":
            name("ob", value)
        elif key == "cfn":
            name("fn", value)
        elif key in ("fl", "fi", "fe", "cfi", "cfl"):
            name("fl", value)
        elif key == "calls":
            call_line = True  # the next cost line is the call's inclusive cost
        elif line[0].isdigit() or line[0] in "+-*":
            fields = line.split()
            if len(fields) < 2:
                continue
            if call_line:
                call_line = False
                continue
            by_function[fn] += int(fields[1])
            by_object[obj] += int(fields[1])
    total = sum(by_function.values())
    print(f"{total // calls} instructions per call ({total} over {calls} calls)")
    print("by library:")
    for o, c in by_object.most_common(15):
        print(f"  {c * 100 / total:6.2f}% {c // calls:8d}  {(o or '?').split('/')[-1]}")
    print("by function:")
    for f, c in by_function.most_common(top):
        lib = (object_of.get(f) or "?").split("/")[-1][:20]
        print(f"  {c * 100 / total:6.2f}% {c // calls:8d}  {lib:20s} {f[:140]}")


if __name__ == "__main__":
    main()
