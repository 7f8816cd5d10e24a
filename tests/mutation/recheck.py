"""Re-check named mutants against test files, in one process: what "now killed" means in the
README's mutation table where a mutmut re-run did not fit the time.

mutmut 3's trampolines read `MUTANT_UNDER_TEST` at every call, so one Python process can run the
given tests once per mutant. Run it in a staging tree that `tests/mutation/run.sh MODULE` made,
after copying the new test files into `mutants/tests/`:

    cd .work/mutation/phases/mutants
    PYTHONPATH=src:. SCRUBLINE_DATA=/nonexistent \\
        python ../../../../tests/mutation/recheck.py names.txt tests/core/test_phases_rules.py

`names.txt` holds one mutant name a line (e.g. the survivors from `mutmut results`); the ones the
tests still pass on are written to `names.txt.left`.
"""

from __future__ import annotations

import os
import sys

import pytest


def main(names_file: str, tests: list[str]) -> int:
    with open(names_file, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    os.environ["MUTANT_UNDER_TEST"] = ""
    if pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]) != 0:
        print("error: the tests fail without any mutant; fix them first", file=sys.stderr)
        return 2
    left = []
    for name in names:
        os.environ["MUTANT_UNDER_TEST"] = name
        args = ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
        survived = pytest.main(args) == 0
        if survived:
            left.append(name)
        print(f"@@ {name}: {'survived' if survived else 'killed'}", file=sys.stderr, flush=True)
    os.environ["MUTANT_UNDER_TEST"] = ""
    with open(names_file + ".left", "w", encoding="utf-8") as handle:
        handle.write("".join(f"{name}\n" for name in left))
    print(f"{len(names) - len(left)} killed, {len(left)} survived", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
