"""The Makefile's `make run` (issue 12: it printed ~70 lines of build output before the
server's `Listening on`). The build is quiet: cmake's output goes to BUILD_DIR/build.log,
shown whole only when the build fails; compiler warnings are still printed; then one line
saying what runs, then the server.

The real cmake is replaced by a stub first on PATH (so no second build of sockit runs
inside the suite): it prints build noise and a warning, or fails with a compiler error,
and "builds" a sockit that prints its arguments and a Listening line and exits.
"""
import os
import shutil
import subprocess
import tempfile

import sktest
from sktest import Case

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

FAKE_CMAKE = r"""#!/bin/sh
# A stand-in for cmake: configure (-S . -B DIR) or build (--build DIR).
if [ "$1" = "--build" ]; then
    i=0
    while [ $i -lt 70 ]; do echo "[ $i%] Building C object src/CMakeFiles/x.dir/f$i.c.o"; i=$((i+1)); done
    if [ -n "$FAKE_CMAKE_FAIL" ]; then
        echo "src/broken.c:12:5: error: 'nope' undeclared" >&2
        exit 2
    fi
    echo "src/sock.c:7:9: warning: unused variable 'x' [-Wunused-variable]" >&2
    cat > "$2/sockit" <<'EOF'
#!/bin/sh
echo "fake sockit $*" >> "$(dirname "$0")/argv.log"
echo "Listening on 127.0.0.1:5000" >&2
EOF
    chmod +x "$2/sockit"
    exit 0
fi
echo "-- Configuring done"
echo "-- Generating done"
"""


@sktest.needs("make")
class MakeRun(Case):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sockit-make-run-")
        self.bin = os.path.join(self.tmp, "bin")
        self.build = os.path.join(self.tmp, "build")
        os.mkdir(self.bin)
        path = os.path.join(self.bin, "cmake")
        with open(path, "w") as f:
            f.write(FAKE_CMAKE)
        os.chmod(path, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def make_run(self, **env):
        e = {k: v for k, v in os.environ.items()
             if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        e["PATH"] = self.bin + os.pathsep + e.get("PATH", "")
        e.update(env)
        return subprocess.run(["make", "run", "BUILD_DIR=" + self.build], cwd=ROOT, env=e,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)

    def test_quiet_build_then_listening(self):
        """two lines of make run's own (with the build's warnings between them), then the
        server: none of the 70 lines of build output"""
        r = self.make_run()
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.decode().splitlines(), [
            "make run: building sockit in %s/ (output in %s/build.log)" % (self.build,
                                                                           self.build),
            "src/sock.c:7:9: warning: unused variable 'x' [-Wunused-variable]",
            "make run: sockit serve echo -l localhost:5000 -v (Ctrl-C stops it)",
            "Listening on 127.0.0.1:5000"])
        with open(os.path.join(self.build, "argv.log")) as f:
            self.assertEqual(f.read(), "fake sockit serve echo -l localhost:5000 -v\n")
        with open(os.path.join(self.build, "build.log")) as f:
            self.assertIn("[ 69%] Building C object", f.read())

    def test_failed_build_shows_its_output(self):
        """a failed build prints its whole output, the error included, says so, does not
        start the server, and make exits non-zero"""
        r = self.make_run(FAKE_CMAKE_FAIL="1")
        out = r.stdout.decode()
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("src/broken.c:12:5: error: 'nope' undeclared\n", out)
        self.assertIn("[ 69%] Building C object", out)
        self.assertIn("make run: the build failed (output above)\n", out)
        self.assertNotIn("Listening on", out)
        self.assertFalse(os.path.exists(os.path.join(self.build, "argv.log")))


if __name__ == "__main__":
    sktest.main()
