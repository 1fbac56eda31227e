#!/usr/bin/python3
"""Add up meson test logs (testlog.json) into one closing line.

Meson counts exit 77 as a skip; those are listed by name so that a missing
peer never hides silently.  Exits non-zero if any test failed or timed out.
"""
import json
import sys


def main(paths):
    passed = failed = skipped = 0
    skipped_names = []
    failed_names = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as e:
            print(f"test-summary: cannot read {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        build = path.split("/")[0]
        for line in lines:
            rec = json.loads(line)
            result = rec.get("result")
            name = f"{build}:{rec.get('name')}"
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
                skipped_names.append(name)
            else:
                failed += 1
                failed_names.append(f"{name} ({result})")
    for n in skipped_names:
        print(f"skipped: {n}")
    for n in failed_names:
        print(f"failed: {n}")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
