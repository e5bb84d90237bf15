"""libsockit.so exports exactly its public API: every name an installed header declares
with SK_EXPORT (include/sockit/export.h) is a defined dynamic symbol of the shared
library, and the library defines no other dynamic symbol, so no sk__ helper and no
file-local name leaks into a program's link. Read with nm -D from binutils (installed
with gcc); the build tree comes from SOCKIT_BUILD_DIR (tests/CMakeLists.txt).
"""
import glob
import os
import re
import shutil
import subprocess
import unittest

import sktest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("SOCKIT_BUILD_DIR") or os.path.dirname(
    os.path.abspath(sktest.SOCKIT))
# `SK_EXPORT type *name(` : the declared name is the last identifier before "(";
# `SK_EXPORT extern const type name;` : the last identifier before ";".
DECL = re.compile(r"^SK_EXPORT\b[^(;]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", re.M)
OBJECT = re.compile(r"^SK_EXPORT\s+extern\b[^(;]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)


def declared_exports():
    """The names the public headers mark SK_EXPORT, by header."""
    names = {}
    for h in [os.path.join(SOURCE_DIR, "include", "sockit.h")] + glob.glob(
            os.path.join(SOURCE_DIR, "include", "sockit", "*.h")):
        with open(h, encoding="utf-8") as f:
            text = f.read()
            for name in DECL.findall(text) + OBJECT.findall(text):
                names[name] = os.path.basename(h)
    return names


def dynamic_symbols(lib):
    """The defined dynamic symbols of LIB (nm -D --defined-only)."""
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) >= 3}


class Exports(unittest.TestCase):
    def setUp(self):
        if not shutil.which("nm"):
            self.skipTest("nm (binutils) not installed")
        self.lib = os.path.join(BUILD_DIR, "libsockit.so")
        if not os.path.exists(self.lib):
            self.skipTest("no shared library in " + BUILD_DIR)

    def test_headers_declare_the_api(self):
        names = declared_exports()
        # Every public header declares its functions with SK_EXPORT; a header that
        # forgot the macro would show up here as a module with no exports.
        self.assertGreater(len(names), 100, names)
        for n in ("sk_version", "sk_strerror", "sk_create_connection", "sk_service_echo"):
            self.assertIn(n, names)
        self.assertTrue(all(n.startswith("sk_") and not n.startswith("sk__")
                            for n in names), sorted(n for n in names
                                                    if not n.startswith("sk_")))

    def test_every_declared_name_is_exported(self):
        missing = sorted("%s (%s)" % (n, h) for n, h in declared_exports().items()
                         if n not in dynamic_symbols(self.lib))
        self.assertEqual(missing, [], "declared SK_EXPORT but not in libsockit.so")

    def test_nothing_else_is_exported(self):
        declared = declared_exports()
        extra = sorted(s for s in dynamic_symbols(self.lib)
                       if s not in declared and not s.startswith("_"))
        self.assertEqual(extra, [], "exported by libsockit.so but in no public header")

    def test_no_internal_helper_is_exported(self):
        leaked = sorted(s for s in dynamic_symbols(self.lib) if s.startswith("sk__"))
        self.assertEqual(leaked, [])


if __name__ == "__main__":
    sktest.main()
