"""make install: `cmake --install` of the build tree into a temporary prefix, then the
installed tree checked file by file, and examples/echo_client.c built out of tree
against it with nothing but `pkg-config --cflags --libs sockit` (libsockit.so),
`pkg-config --static --libs sockit` (libsockit.a) and `find_package(sockit)` (both
CMake targets), each build run against the INSTALLED `sockit serve echo`.

Everything is built and installed under one temporary directory, removed at the end;
pkg-config sees only the temporary prefix (PKG_CONFIG_LIBDIR), CMake finds sockit there
(CMAKE_PREFIX_PATH, and the test checks sockit_DIR). The build tree comes from
SOCKIT_BUILD_DIR (tests/CMakeLists.txt): under make valgrind SOCKIT is a wrapper script
elsewhere, and the installed programs run under the same memcheck launcher.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import sktest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("SOCKIT_BUILD_DIR") or (
    None if sktest.under_valgrind() else os.path.dirname(os.path.abspath(sktest.SOCKIT)))
CC = os.environ.get("CC") or "cc"
# A sanitizer build installs an instrumented library: its consumers link the runtime too.
SANITIZER = os.environ.get("SOCKIT_SANITIZER") or ""
SAN_FLAGS = ["-fsanitize=" + SANITIZER] if SANITIZER else []
VG = os.path.join(BUILD_DIR or "", "valgrind", "vg") if sktest.under_valgrind() else None
# Deadlines: compiling and configuring are slow on a loaded 2-core CI machine.
TOOL_TIMEOUT = 300
RUN_TIMEOUT = sktest.DEFAULT_TIMEOUT * 3
# The public headers and the private ones, which must never be installed.
PUBLIC_HEADERS = sorted(
    ["sockit.h"] + ["sockit/" + os.path.basename(h)
                    for h in glob.glob(os.path.join(SOURCE_DIR, "include", "sockit", "*.h"))])
PRIVATE_HEADERS = sorted(os.path.basename(h)
                         for h in glob.glob(os.path.join(SOURCE_DIR, "src", "*.h")))

CMAKE_CONSUMER = """cmake_minimum_required(VERSION 3.20)
project(sockit_consumer LANGUAGES C)
find_package(sockit ${WANT} REQUIRED)
message(STATUS "consumer: sockit ${sockit_VERSION} from ${sockit_DIR}")
add_executable(echo_client_cmake_shared echo_client.c)
target_link_libraries(echo_client_cmake_shared PRIVATE sockit::sockit)
add_executable(echo_client_cmake_static echo_client.c)
target_link_libraries(echo_client_cmake_static PRIVATE sockit::sockit_static)
"""


def preflight():
    """Skip the file visibly when a tool the test needs is missing, naming its package."""
    if not BUILD_DIR or not os.path.isfile(os.path.join(BUILD_DIR, "cmake_install.cmake")):
        sktest.skip_file("no build tree with cmake_install.cmake (SOCKIT_BUILD_DIR=%r)"
                         % BUILD_DIR)
    for tool, package in (("cmake", "cmake"), (CC, "gcc"), ("pkg-config", "pkg-config"),
                          ("readelf", "binutils")):
        if not shutil.which(tool):
            sktest.skip_file("%s not found (apt-get install %s)" % (tool, package))
    if VG and not os.access(VG, os.X_OK):
        sktest.skip_file("under valgrind but no launcher %s" % VG)


def under_vg(argv):
    """argv, under the memcheck launcher in make valgrind."""
    return [VG] + list(argv) if VG else list(argv)


def check_run(argv, timeout=TOOL_TIMEOUT, **kw):
    """Run a tool to completion under a deadline; fail with its output unless it exits 0."""
    r = sktest.run(argv, timeout=timeout, **kw)
    if r.returncode != 0:
        raise AssertionError("%r exited %d\nstdout: %s\nstderr: %s" % (
            argv, r.returncode, r.stdout.decode(errors="replace")[-4000:],
            r.stderr.decode(errors="replace")[-4000:]))
    return r


def readelf_dynamic(path):
    """(SONAME or None, [NEEDED...]) of an ELF file."""
    out = check_run(["readelf", "-d", path], timeout=60).stdout.decode()
    soname = re.findall(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    return (soname[0] if soname else None), needed


class Installed:
    """The one install every case shares (setUpModule), in TMP/prefix."""
    tmp = prefix = libdir = pc_env = None


def install(prefix, env=None):
    """cmake --install BUILD_DIR --prefix PREFIX, leaving the build tree's install
    manifest as it was (it may be the record of a real `make install`, which
    `make uninstall` reads). Returns this install's manifest (bytes)."""
    manifest = os.path.join(BUILD_DIR, "install_manifest.txt")
    saved = None
    if os.path.exists(manifest):
        with open(manifest, "rb") as f:
            saved = f.read()
    try:
        check_run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                  env=dict(os.environ, **(env or {})))
        with open(manifest, "rb") as f:
            return f.read()
    finally:
        if saved is None:
            if os.path.exists(manifest):
                os.unlink(manifest)
        else:
            with open(manifest, "wb") as f:
                f.write(saved)


def setUpModule():
    Installed.tmp = tempfile.mkdtemp(prefix="sockit-install-")
    unittest.addModuleCleanup(shutil.rmtree, Installed.tmp, ignore_errors=True)
    Installed.prefix = os.path.join(Installed.tmp, "prefix")
    install(Installed.prefix)
    pcs = glob.glob(os.path.join(Installed.prefix, "lib*", "pkgconfig", "sockit.pc")) + \
        glob.glob(os.path.join(Installed.prefix, "lib", "*", "pkgconfig", "sockit.pc"))
    if len(pcs) != 1:
        raise AssertionError("expected one LIBDIR/pkgconfig/sockit.pc, found %r" % pcs)
    Installed.libdir = os.path.dirname(os.path.dirname(pcs[0]))
    # Only the temporary prefix: never a sockit.pc from /usr/local or /usr.
    Installed.pc_env = dict(os.environ, PKG_CONFIG_LIBDIR=os.path.dirname(pcs[0]),
                            PKG_CONFIG_PATH="")
    # The consumer sources: a copy of the example, so the builds read nothing else.
    Installed.src = os.path.join(Installed.tmp, "src")
    os.mkdir(Installed.src)
    shutil.copy(os.path.join(SOURCE_DIR, "examples", "echo_client.c"), Installed.src)


def pkg_config(*args):
    r = check_run(["pkg-config"] + list(args) + ["sockit"], timeout=60, env=Installed.pc_env)
    return r.stdout.decode().split()


def sk_version():
    """SK_VERSION of the installed sockit.h."""
    with open(os.path.join(Installed.prefix, "include", "sockit.h")) as f:
        m = re.search(r'#define SK_VERSION "([^"]+)"', f.read())
    assert m, "no SK_VERSION in the installed sockit.h"
    return m.group(1)


class InstalledTree(unittest.TestCase):
    def path(self, *parts):
        return os.path.join(Installed.prefix, *parts)

    def test_sockit_binary(self):
        exe = self.path("bin", "sockit")
        self.assertTrue(os.path.isfile(exe) and os.access(exe, os.X_OK), exe)
        r = sktest.run(under_vg([exe, "--version"]), timeout=RUN_TIMEOUT)
        self.assertEqual((r.returncode, r.stdout.decode().strip()),
                         (0, "sockit " + sk_version()), r.stderr)

    def test_shared_library_symlink_chain_and_soname(self):
        version = sk_version()
        major = version.split(".")[0]
        lib = os.path.join(Installed.libdir, "libsockit.so")
        self.assertEqual(os.readlink(lib), "libsockit.so." + major)
        self.assertEqual(os.readlink(lib + "." + major), "libsockit.so." + version)
        real = lib + "." + version
        self.assertTrue(os.path.isfile(real) and not os.path.islink(real), real)
        soname, needed = readelf_dynamic(real)
        self.assertEqual(soname, "libsockit.so." + major)
        self.assertIn("libc.so.6", needed)

    def test_static_library(self):
        with open(os.path.join(Installed.libdir, "libsockit.a"), "rb") as f:
            self.assertEqual(f.read(8), b"!<arch>\n")

    def test_public_headers_and_only_them(self):
        inc = self.path("include")
        got = sorted(os.path.relpath(os.path.join(d, n), inc)
                     for d, _, names in os.walk(inc) for n in names)
        self.assertEqual(got, PUBLIC_HEADERS)
        self.assertTrue(PRIVATE_HEADERS, "no src/*.h found to check against")
        for h in PRIVATE_HEADERS:
            self.assertNotIn(h, [os.path.basename(g) for g in got])

    def test_each_header_compiles_on_its_own(self):
        # From the installed tree only (-I from pkg-config), strict warnings.
        cflags = pkg_config("--cflags")
        for h in PUBLIC_HEADERS:
            with self.subTest(header=h):
                src = os.path.join(Installed.tmp, "hdr.c")
                with open(src, "w") as f:
                    f.write("#include <%s>\n#include <%s>\nint sk_hdr_check;\n" % (h, h))
                check_run([CC, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"]
                          + cflags + [src], env=Installed.pc_env)

    def test_pkg_config_file(self):
        self.assertEqual(check_run(["pkg-config", "--modversion", "sockit"], timeout=60,
                                   env=Installed.pc_env).stdout.decode().strip(), sk_version())
        self.assertEqual(pkg_config("--cflags"), ["-I" + self.path("include")])
        self.assertEqual(pkg_config("--libs"), ["-L" + Installed.libdir, "-lsockit"])
        static = pkg_config("--static", "--libs")
        self.assertEqual(static[:2], ["-L" + Installed.libdir, "-lsockit"])
        for lib in ("-lpthread", "-lm"):
            self.assertIn(lib, static)
        self.assertEqual(pkg_config("--variable=prefix"), [Installed.prefix])

    def test_cmake_package_files(self):
        d = os.path.join(Installed.libdir, "cmake", "sockit")
        for name in ("sockitConfig.cmake", "sockitConfigVersion.cmake", "sockitTargets.cmake"):
            self.assertTrue(os.path.isfile(os.path.join(d, name)), os.path.join(d, name))

    def test_no_installed_text_file_names_the_build_or_source_tree(self):
        # The CMake files are relocatable and sockit.pc names the install prefix: none
        # may point back into the tree it was installed from.
        texts = glob.glob(os.path.join(Installed.libdir, "cmake", "sockit", "*.cmake")) + \
            glob.glob(os.path.join(Installed.libdir, "pkgconfig", "*.pc"))
        self.assertGreaterEqual(len(texts), 4, texts)
        for path in texts:
            with open(path) as f:
                text = f.read()
            for tree in (os.path.realpath(BUILD_DIR), os.path.realpath(SOURCE_DIR)):
                self.assertNotIn(tree + "/", text, path)

    def test_destdir_stages_under_destdir_for_the_final_prefix(self):
        stage = os.path.join(Installed.tmp, "stage")
        final = os.path.join(Installed.tmp, "final-prefix")
        install(final, env={"DESTDIR": stage})
        root = stage + final
        self.assertTrue(os.path.isfile(os.path.join(root, "bin", "sockit")))
        self.assertFalse(os.path.exists(final), "DESTDIR install wrote to the prefix")
        pcs = glob.glob(os.path.join(root, "lib*", "pkgconfig", "sockit.pc")) + \
            glob.glob(os.path.join(root, "lib", "*", "pkgconfig", "sockit.pc"))
        self.assertEqual(len(pcs), 1, pcs)
        with open(pcs[0]) as f:
            self.assertIn("prefix=%s\n" % final, f.read())


    @sktest.needs("make")
    def test_make_uninstall_removes_every_file_and_our_directories(self):
        """make uninstall (reading a build dir's install manifest) removes every installed
        file and sockit's own directories, and leaves the shared ones (bin, share/man)"""
        prefix = os.path.join(Installed.tmp, "uninstall-prefix")
        record = os.path.join(Installed.tmp, "uninstall-build")
        os.mkdir(record)
        manifest = install(prefix)
        with open(os.path.join(record, "install_manifest.txt"), "wb") as f:
            f.write(manifest)
        files = manifest.decode().split()
        self.assertIn(os.path.join(prefix, "bin", "sockit"), files)
        check_run(["make", "-s", "-C", SOURCE_DIR, "uninstall", "BUILD_DIR=" + record])
        self.assertEqual([f for f in files if os.path.lexists(f)], [])
        left = sorted(os.path.relpath(os.path.join(d, n), prefix)
                      for d, dirs, names in os.walk(prefix) for n in dirs + names)
        self.assertEqual([p for p in left if "sockit" in p], [], left)
        self.assertIn("bin", left)


class OutOfTree(unittest.TestCase):
    """echo_client.c built against the installed tree, against the installed server."""

    MESSAGE = "".join(chr(32 + (i * 7) % 95) for i in range(20000))

    def build_dir(self, name):
        d = os.path.join(Installed.tmp, name)
        os.mkdir(d)
        return d

    def echo_round_trip(self, client, env=None):
        """The client's message comes back byte for byte from `sockit serve echo`."""
        server = under_vg([os.path.join(Installed.prefix, "bin", "sockit"),
                           "serve", "echo", "-l", "127.0.0.1:0", "-v"])
        with sktest.Server(server) as srv:
            r = sktest.run(under_vg([client, "127.0.0.1:%d" % srv.port, self.MESSAGE]),
                           timeout=RUN_TIMEOUT, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = self.MESSAGE.encode() + b"\n"
            if r.stdout != want:
                first = next((i for i, (a, b) in enumerate(zip(r.stdout, want)) if a != b),
                             min(len(r.stdout), len(want)))
                self.fail("echo differs at byte %d: got %d bytes, want %d; got %r, want %r"
                          % (first, len(r.stdout), len(want), r.stdout[first:first + 40],
                             want[first:first + 40]))
            self.assertEqual(srv.stop(), 0, srv.log_lines)
            srv.proc.stderr.close()

    def test_pkg_config_shared(self):
        out = os.path.join(self.build_dir("pc-shared"), "echo_client")
        check_run([CC, "-o", out, os.path.join(Installed.src, "echo_client.c")] + SAN_FLAGS
                  + pkg_config("--cflags", "--libs"), env=Installed.pc_env)
        self.assertIn("libsockit.so.0", readelf_dynamic(out)[1])
        env = dict(os.environ, LD_LIBRARY_PATH=Installed.libdir)
        # the loader takes the installed libsockit.so.0, not another one
        ldd = check_run(["ldd", out], timeout=60, env=env).stdout.decode()
        self.assertIn(os.path.join(Installed.libdir, "libsockit.so.0"), ldd)
        self.echo_round_trip(out, env=env)

    def test_pkg_config_static(self):
        # --static adds libsockit.a's own needs (Libs.private: -lpthread -lm); -Bstatic
        # makes the linker take the .a over the .so next to it.
        out = os.path.join(self.build_dir("pc-static"), "echo_client")
        check_run([CC, "-o", out, os.path.join(Installed.src, "echo_client.c")] + SAN_FLAGS
                  + pkg_config("--cflags") + ["-Wl,-Bstatic"]
                  + pkg_config("--static", "--libs") + ["-Wl,-Bdynamic"],
                  env=Installed.pc_env)
        self.assertFalse([n for n in readelf_dynamic(out)[1] if "sockit" in n])
        self.echo_round_trip(out)

    def test_cmake_find_package_shared_and_static(self):
        src = self.build_dir("cmake-src")
        shutil.copy(os.path.join(Installed.src, "echo_client.c"), src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(CMAKE_CONSUMER)
        build = os.path.join(Installed.tmp, "cmake-build")
        configure = ["cmake", "-S", src, "-B", build, "-DCMAKE_PREFIX_PATH=" + Installed.prefix,
                     "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_BUILD_TYPE=Debug"]
        if SAN_FLAGS:
            configure += ["-DCMAKE_C_FLAGS=" + SAN_FLAGS[0],
                          "-DCMAKE_EXE_LINKER_FLAGS=" + SAN_FLAGS[0]]
        check_run(configure + ["-DWANT=0.1"])
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^sockit_DIR:PATH=(.*)$", f.read(), re.M)
        self.assertTrue(m and m.group(1).startswith(Installed.prefix + "/"),
                        "sockit_DIR %r is not under %r" % (m and m.group(1), Installed.prefix))
        check_run(["cmake", "--build", build])
        shared = os.path.join(build, "echo_client_cmake_shared")
        static = os.path.join(build, "echo_client_cmake_static")
        self.assertIn("libsockit.so.0", readelf_dynamic(shared)[1])
        self.assertFalse([n for n in readelf_dynamic(static)[1] if "sockit" in n])
        self.echo_round_trip(shared, env=dict(os.environ, LD_LIBRARY_PATH=Installed.libdir))
        self.echo_round_trip(static)

    def test_cmake_version_check_refuses_another_major(self):
        src = self.build_dir("cmake-v1-src")
        shutil.copy(os.path.join(Installed.src, "echo_client.c"), src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(CMAKE_CONSUMER)
        major = int(sk_version().split(".")[0])
        r = sktest.run(["cmake", "-S", src, "-B", os.path.join(Installed.tmp, "cmake-v1"),
                        "-DCMAKE_PREFIX_PATH=" + Installed.prefix,
                        "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DWANT=%d.0" % (major + 1)],
                       timeout=TOOL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        err = b" ".join(r.stderr.split())  # CMake wraps its messages
        self.assertIn(b'compatible with requested version "%d.0"' % (major + 1), err)
        self.assertIn(b"sockitConfig.cmake, version: " + sk_version().encode(), err)


if __name__ == "__main__":
    preflight()
    sktest.main()
