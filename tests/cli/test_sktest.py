"""The suite's own skip machinery (issue 12: without nc and socat, `make test` said "100%
tests passed" while the nc/socat cases of five suites were skipped silently).

@sktest.needs("nc") marks a case; tests/lib/sktools.py finds the marks with ast;
tests/CMakeLists.txt makes each marked case a ctest entry of its own that exits 77 when
the tool is missing, so ctest names it under "The following tests did not run". Here:
the scan, the three ways sktest.main() runs a file (one case, all but the marked ones,
by hand), the ctest entries of this build, and a lint that no case skips itself for a
missing tool any more.
"""
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

import sktest
import sktools
from sktest import Case

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
LIB = os.path.join(TESTS, "lib")

SAMPLE = '''
import unittest
import sktest

class Plain(unittest.TestCase):
    def test_plain(self):
        print("\\nRAN Plain.test_plain")

    @sktest.needs("socat")
    def test_socat(self):
        print("\\nRAN Plain.test_socat")

@sktest.needs("socat")
class Whole(unittest.TestCase):
    def test_one(self):
        print("\\nRAN Whole.test_one")

    def test_two(self):
        print("\\nRAN Whole.test_two")

@sktest.needs("socat")
@sktest.each_model_in("loop", "fork")
class Generated(unittest.TestCase):
    def each_case(self, model):
        print("\\nRAN Generated", model)

class SkipsItself(unittest.TestCase):
    @sktest.needs("socat")
    def test_no_ipv6(self):
        self.skipTest("no IPv6 here")

if __name__ == "__main__":
    sktest.main()
'''


class Sandbox:
    """A test file in a temporary directory, and a PATH with or without a fake socat."""

    def __init__(self, text=SAMPLE):
        self.dir = tempfile.mkdtemp(prefix="sockit-sktest-")
        self.path = os.path.join(self.dir, "test_sample.py")
        with open(self.path, "w") as f:
            f.write(textwrap.dedent(text))
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)

    def add_tool(self, name):
        p = os.path.join(self.bin, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(p, 0o755)

    def run(self, **env):
        e = {k: v for k, v in os.environ.items()
             if k not in ("SKTEST_CASE", "SKTEST_EXCLUDE_NEEDS")}
        e.update(PATH=self.bin, PYTHONPATH=LIB, **env)
        return subprocess.run([sys.executable, "-B", self.path], env=e, cwd=self.dir,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class ScanTests(Case):
    def test_scan_finds_methods_classes_and_generated_classes(self):
        """a marked def test_* is one entry, a marked class one entry per test, and a
        marked class whose tests a decorator makes (each_*) one entry for the class"""
        box = Sandbox()
        try:
            self.assertEqual(sktools.scan(box.path), [
                ("Plain.test_socat", ["socat"]), ("Whole.test_one", ["socat"]),
                ("Whole.test_two", ["socat"]), ("Generated", ["socat"]),
                ("SkipsItself.test_no_ipv6", ["socat"])])
        finally:
            box.close()

    def test_scan_refuses_unknown_or_computed_names(self):
        """the configure step must be able to read every mark: a name not in
        sktools.TOOLS, or one that is not a literal, is an error there"""
        for text, msg in (('@needs("netcat")\ndef test_x(self): pass', "unknown tool 'netcat'"),
                          ('@needs(TOOL)\ndef test_x(self): pass', "string literals")):
            box = Sandbox("class C:\n" + textwrap.indent(text, "    ") + "\n")
            try:
                with self.assertRaisesRegex(ValueError, msg):
                    sktools.scan(box.path)
            finally:
                box.close()
        with self.assertRaisesRegex(ValueError, "unknown tool 'netcat'"):
            sktest.needs("netcat")


class MainTests(Case):
    def setUp(self):
        self.box = Sandbox()

    def tearDown(self):
        self.box.close()

    def ran(self, r):
        return sorted(re.findall(r"^RAN (.*)$", r.stdout.decode(), re.M))

    def test_one_case_with_its_tool_missing_exits_77(self):
        """SKTEST_CASE=Class.test with socat missing: exit 77 (ctest: Skipped) and the
        reason, the case not run"""
        for case in ("Plain.test_socat", "Whole.test_one", "Generated"):
            with self.subTest(case=case):
                r = self.box.run(SKTEST_CASE=case)
                self.assertEqual(r.returncode, 77, r.stdout)
                self.assertEqual(r.stdout.decode(), "SKIPPED: %s: socat not found: apt-get "
                                                    "install socat\n" % case)

    def test_one_case_with_its_tool_present_runs_it_alone(self):
        self.box.add_tool("socat")
        for case, ran in (("Plain.test_socat", ["Plain.test_socat"]),
                          ("Whole.test_two", ["Whole.test_two"]),
                          ("Generated", ["Generated fork", "Generated loop"])):
            with self.subTest(case=case):
                r = self.box.run(SKTEST_CASE=case)
                self.assertEqual((r.returncode, self.ran(r)), (0, ran), r.stdout)

    def test_one_case_that_skips_itself_exits_77(self):
        """a marked case whose tool is there but which skips itself (no IPv6...) is
        reported as skipped too, not as passed"""
        self.box.add_tool("socat")
        r = self.box.run(SKTEST_CASE="SkipsItself.test_no_ipv6")
        self.assertEqual(r.returncode, 77, r.stdout)

    def test_file_entry_leaves_the_marked_cases_out(self):
        """SKTEST_EXCLUDE_NEEDS=1 (the file's own ctest entry) runs only the unmarked
        cases, tool or no tool, and says which it left to their entries"""
        for present in (False, True):
            if present:
                self.box.add_tool("socat")
            with self.subTest(socat=present):
                r = self.box.run(SKTEST_EXCLUDE_NEEDS="1")
                self.assertEqual((r.returncode, self.ran(r)), (0, ["Plain.test_plain"]),
                                 r.stdout)
                self.assertIn(b"run as ctest entries of their own", r.stdout)

    def test_by_hand_everything_runs_or_skips_visibly(self):
        """python3 test_x.py (no ctest variables): every case runs; a marked one whose
        tool is missing is skipped with the reason"""
        r = self.box.run()
        self.assertEqual((r.returncode, self.ran(r)), (0, ["Plain.test_plain"]), r.stdout)
        self.assertIn(b"skipped 'socat not found: apt-get install socat'", r.stdout)
        self.box.add_tool("socat")
        r = self.box.run()
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(self.ran(r), ["Generated fork", "Generated loop", "Plain.test_plain",
                                       "Plain.test_socat", "Whole.test_one", "Whole.test_two"])

    def test_a_mark_the_scan_cannot_see_fails_the_file(self):
        """a marked case that would have no ctest entry (inherited here, so the scan of
        this file does not list it) fails the file's entry instead of never running"""
        box = Sandbox(SAMPLE.replace("class SkipsItself(unittest.TestCase):",
                                     "class Inherits(Whole):\n    pass\n\n"
                                     "class SkipsItself(unittest.TestCase):"))
        try:
            r = box.run(SKTEST_EXCLUDE_NEEDS="1")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(b"needs() marks Inherits.test_one, Inherits.test_two, but "
                          b"tests/CMakeLists.txt cannot see them", r.stdout)
        finally:
            box.close()


class SuiteTests(Case):
    def test_ctest_has_an_entry_per_marked_case(self):
        """this build's ctest list has SUITE.FILE.CASE for every marked case of the suite,
        beside each file's own entry"""
        build = os.environ.get("SOCKIT_BUILD_DIR")
        ctest = shutil.which("ctest")
        if not build or not ctest:
            self.skipTest("not run by ctest (no SOCKIT_BUILD_DIR) or no ctest on PATH")
        r = subprocess.run([ctest, "-N"], cwd=build, stdout=subprocess.PIPE, timeout=60)
        names = set(re.findall(rb"Test +#\d+: (\S+)", r.stdout))
        want = set()
        for suite in ("cli", "seeds"):
            d = os.path.join(TESTS, suite)
            for f in sorted(os.listdir(d)):
                if f.startswith("test_") and f.endswith(".py"):
                    stem = "%s.%s" % (suite, f[:-3])
                    want.add(stem.encode())
                    want |= {("%s.%s" % (stem, c)).encode()
                             for c, _ in sktools.scan(os.path.join(d, f))}
        self.assertEqual(sorted(want - names), [], "missing ctest entries: reconfigure?")
        self.assertIn(b"cli.test_udp.Nc.test_nc_udp_client", names)
        self.assertIn(b"seeds.test_nc.PeerHalfClose.test_nc_reference", names)

    def test_no_case_skips_itself_for_a_missing_tool(self):
        """a case needing nc, ncat, socat, prlimit, make, ip or root says so with
        @sktest.needs, not with skipTest / skipIf / skipUnless (which ctest cannot see
        and so cannot name); skipping a whole file (sktest.skip_file) is named by ctest
        already and stays allowed"""
        tool = re.compile(r"\b(nc|ncat|socat|prlimit|make|netcat|root|ip)\b.*"
                          r"(not installed|not found|missing|is not OpenBSD)|"
                          r"\bwhich\(|\bnc_is_openbsd\b|\bgeteuid\b")
        found = []
        for suite in ("cli", "seeds"):
            d = os.path.join(TESTS, suite)
            for f in sorted(os.listdir(d)):
                if not (f.startswith("test_") and f.endswith(".py")):
                    continue
                path = os.path.join(d, f)
                with open(path) as fh:
                    src = fh.read()
                for node in ast.walk(ast.parse(src, path)):
                    if not isinstance(node, ast.Call):
                        continue
                    fn = node.func
                    name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if name not in ("skipTest", "skipIf", "skipUnless", "skip"):
                        continue
                    text = ast.get_source_segment(src, node) or ""
                    if tool.search(text):
                        found.append("%s/%s:%d: %s" % (suite, f, node.lineno, text[:80]))
        self.assertEqual(found, [], "use @sktest.needs(...) for these")


if __name__ == "__main__":
    sktest.main()
