#!/usr/bin/python3
"""Run every black-box API test module (tests/api/test_*.py) with unittest.

Writes build/results/api.txt with exactly "PASSED FAILED" and prints
"api: N passed, N failed".  Errors count as failed, and so does every test
of a module or class whose set-up failed, and every failing module or class
tear-down (e.g. the server not exiting with status 0 on SIGTERM).
Exit status is 1 if anything failed (or nothing ran), else 0.

Usage: tests/api/run.py [-v] [-k PATTERN] [module ...]
The binary is $FLEETDESK_BIN (default build/fleetdesk under the repository).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep tests/api free of __pycache__
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed_ids = set()
        self.failed_ids = set()
        self.fixture_failures = 0

    def _note_failure(self, test):
        if isinstance(test, unittest.case._SubTest):
            test = test.test_case
        if isinstance(test, unittest.suite._ErrorHolder):
            desc = test.description
            # set-up failures: the tests that did not run are counted below
            if not (desc.startswith("setUpModule") or desc.startswith("setUpClass")):
                self.fixture_failures += 1
            return
        self.failed_ids.add(test.id())
        self.passed_ids.discard(test.id())

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self.failed_ids:
            self.passed_ids.add(test.id())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note_failure(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._note_failure(test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed_ids.add(test.id())
            self.passed_ids.discard(test.id())

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._note_failure(test)


def all_ids(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from all_ids(t)
        else:
            yield t.id()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="patterns", action="append", default=None,
                    help="only run tests matching this substring (unittest -k)")
    ap.add_argument("modules", nargs="*", help="test modules, e.g. test_etag")
    args = ap.parse_args()

    os.chdir(REPO)
    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    if args.modules:
        suite = unittest.TestSuite(
            loader.loadTestsFromName(m[:-3] if m.endswith(".py") else os.path.basename(m))
            for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    ids = set(all_ids(suite))

    started = time.time()
    runner = unittest.TextTestRunner(verbosity=2 if args.verbose else 1,
                                     resultclass=CountingResult, stream=sys.stderr)
    result = runner.run(suite)

    passed = len(result.passed_ids & ids)
    failed = len(ids) - passed + result.fixture_failures   # never-run tests count as failed
    # loader errors (syntax errors, import errors) show up as synthetic failing tests
    out_dir = os.path.join(REPO, "build", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "api.txt"), "w") as f:
        f.write("%d %d\n" % (passed, failed))
    sys.stderr.write("api suite took %.1f s\n" % (time.time() - started))
    print("api: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
