#!/usr/bin/python3
"""Tests of scripts/qapi-gen.py.

- Every schema in tests/qapi-schema/bad/ must be refused with exit status
  1 and exactly the message its first line announces:
      # expect: LINE: message            (in the file itself)
      # expect: PATH:LINE: message       (in a file it includes)
- The good schemas (good/*.json that are not only included, the test
  schema, and qio's own qapi/qapi-schema.json) must generate, twice with
  the same result, every file the build expects, and introspection data
  whose references all resolve.
- docs/qmp-reference.md must be what the generator makes of the schema
  now.

Usage: test-qapi-gen.py SRCDIR
"""

import json
import os
import re
import subprocess
import sys
import tempfile

FAILURES = []


def check(ok, what):
    print("%s: %s" % ("ok" if ok else "FAILED", what))
    if not ok:
        FAILURES.append(what)


def run_gen(srcdir, args):
    gen = os.path.join(srcdir, "scripts", "qapi-gen.py")
    return subprocess.run([sys.executable, gen] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)


def bad_schemas(srcdir):
    baddir = os.path.join(srcdir, "tests", "qapi-schema", "bad")
    names = sorted(n for n in os.listdir(baddir) if n.endswith(".json"))
    check(len(names) >= 40, "at least 40 bad schemas (%d)" % len(names))
    for name in names:
        path = os.path.join(baddir, name)
        with open(path, encoding="utf-8") as f:
            first = f.readline().rstrip("\n")
        m = re.match(r"^# expect: (?:(\S+\.json):)?(\d+): (.*)$", first)
        if not m:
            check(False, "%s announces its error on line 1" % name)
            continue
        where = os.path.join(baddir, m.group(1)) if m.group(1) else path
        expected = "%s:%s: %s" % (where, m.group(2), m.group(3))
        r = run_gen(srcdir, ["--check-only", path])
        got = r.stderr.strip()
        ok = r.returncode == 1 and got == expected
        check(ok, "bad/%s is refused with its message" % name)
        if not ok:
            print("  exit %d\n  expected: %s\n  got:      %s"
                  % (r.returncode, expected, got))


def resolve_introspection(text, masked):
    """Problems with the SchemaInfo list in @text, or []."""
    problems = []
    entities = json.loads(text)
    names = {e["name"] for e in entities}
    for e in entities:
        refs = []
        meta = e["meta-type"]
        if meta in ("command", "event"):
            refs.append(e["arg-type"])
            if meta == "command":
                refs.append(e["ret-type"])
        elif meta == "object":
            refs += [m["type"] for m in e["members"]]
            refs += [v["type"] for v in e.get("variants", [])]
            if "variants" in e and e["tag"] not in \
                    [m["name"] for m in e["members"]]:
                problems.append("%s: tag is no member" % e["name"])
        elif meta == "array":
            refs.append(e["element-type"])
        elif meta == "alternate":
            refs += [m["type"] for m in e["members"]]
        elif meta == "enum":
            if [m["name"] for m in e["members"]] != e["values"]:
                problems.append("%s: members and values differ" % e["name"])
        elif meta != "builtin":
            problems.append("%s: meta-type %s" % (e["name"], meta))
        for r in refs:
            if r not in names:
                problems.append("%s refers to %s, which is not listed"
                                % (e["name"], r))
        if masked and meta in ("object", "enum", "alternate") and \
                not e["name"].isdigit():
            problems.append("%s: name not masked" % e["name"])
    return problems


def introspection_text(cfile):
    with open(cfile, encoding="utf-8") as f:
        src = f.read()
    parts = re.findall(r'^    "((?:[^"\\]|\\.)*)"', src, re.M)
    return "".join(p.replace('\\"', '"').replace("\\\\", "\\")
                   for p in parts)


def good_schemas(srcdir):
    tests = os.path.join(srcdir, "tests", "qapi-schema")
    cases = [
        (os.path.join(srcdir, "qapi", "qapi-schema.json"), ["--builtins"],
         True),
        (os.path.join(tests, "qapi-schema-test.json"), ["-p", "test-"],
         True),
        (os.path.join(tests, "qapi-schema-test.json"),
         ["-p", "test-", "--unmask"], False),
        (os.path.join(tests, "good", "doc.json"), [], True),
        (os.path.join(tests, "good", "modules.json"), [], True),
    ]
    for schema, opts, masked in cases:
        label = "%s %s" % (os.path.relpath(schema, srcdir), " ".join(opts))
        outputs = []
        for _ in range(2):
            with tempfile.TemporaryDirectory(prefix="qapi-gen.") as tmp:
                r = run_gen(srcdir, opts + ["-o", tmp, schema])
                check(r.returncode == 0 and not r.stderr,
                      "%s generates" % label)
                if r.returncode:
                    print(r.stderr)
                    break
                files = {}
                for n in sorted(os.listdir(tmp)):
                    with open(os.path.join(tmp, n), encoding="utf-8") as f:
                        files[n] = f.read()
                outputs.append(files)
        if len(outputs) != 2:
            continue
        check(outputs[0] == outputs[1], "%s generates the same twice" % label)
        files = outputs[0]
        prefix = "test-" if "test-" in opts else ""
        for kind in ("types", "visit", "commands", "events"):
            check(prefix + "qapi-%s.h" % kind in files,
                  "%s writes %sqapi-%s.h" % (label, prefix, kind))
        cfile = prefix + "qapi-introspect.c"
        with tempfile.TemporaryDirectory(prefix="qapi-gen.") as tmp:
            path = os.path.join(tmp, cfile)
            with open(path, "w", encoding="utf-8") as f:
                f.write(files[cfile])
            problems = resolve_introspection(introspection_text(path),
                                             masked)
        check(not problems, "%s introspection resolves" % label)
        for p in problems[:10]:
            print("  " + p)

    # modules get files of their own
    with tempfile.TemporaryDirectory(prefix="qapi-gen.") as tmp:
        run_gen(srcdir, ["-o", tmp, os.path.join(tests, "good",
                                                  "modules.json")])
        check(os.path.exists(os.path.join(tmp, "qapi-types-user.h")) and
              os.path.exists(os.path.join(tmp, "qapi-types-other.h")),
              "modules get their own files")
        with open(os.path.join(tmp, "qapi-types-user.h")) as f:
            check('#include "qapi-types-other.h"' in f.read(),
                  "a module's header includes the modules it includes")


def doc_current(srcdir):
    committed = os.path.join(srcdir, "docs", "qmp-reference.md")
    with tempfile.TemporaryDirectory(prefix="qapi-doc.") as tmp:
        fresh = os.path.join(tmp, "qmp-reference.md")
        r = run_gen(srcdir, ["--doc-only", fresh,
                             os.path.join(srcdir, "qapi", "qapi-schema.json")])
        check(r.returncode == 0, "the reference generates")
        with open(fresh, encoding="utf-8") as f:
            new = f.read()
    try:
        with open(committed, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        old = None
    check(old == new, "docs/qmp-reference.md is current (regenerate it with "
          "scripts/qapi-gen.py --doc-only docs/qmp-reference.md "
          "qapi/qapi-schema.json)")
    for word in ("### chardev-add (command)", "### SHUTDOWN (event)",
                 "### ObjectOptions (union)", "Example:"):
        check(word in new, "the reference has %r" % word)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    srcdir = os.path.abspath(argv[1])
    what = os.environ.get("QAPI_GEN_TESTS", "bad,good,doc").split(",")
    if "bad" in what:
        bad_schemas(srcdir)
    if "good" in what:
        good_schemas(srcdir)
    if "doc" in what:
        doc_current(srcdir)
    if FAILURES:
        print("test-qapi-gen: %d failure(s)" % len(FAILURES))
        return 1
    print("test-qapi-gen: every case behaved")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
