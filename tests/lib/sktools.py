"""sktools: the tools some test cases need (nc, ncat, socat, root, ip, ...), found without
importing the test files (Python 3 stdlib only).

A case that needs a tool says so with @sktest.needs("nc") on its def test_* or on its
class. Three readers use that mark:

- tests/CMakeLists.txt, at configure time (`python3 sktools.py --ctest FILE...`): every
  marked case (or class) becomes a ctest entry of its own, `cli.test_udp.Nc.test_foo`,
  which exits 77 (ctest: "Skipped", named in the summary) when a tool is missing, while
  the file's own entry runs everything else. The files are parsed with `ast`, never
  imported, so configuring runs no test code.
- sktest.main(), at run time, which runs one marked case (SKTEST_CASE) or leaves them all
  out (SKTEST_EXCLUDE_NEEDS), and checks that every case it leaves out has its entry.
- `make test` (`python3 sktools.py --missing DIR...`): one line per missing tool, with
  the number of cases it costs and the package to install.

The marks must be literal: needs("nc", "socat"), with names from TOOLS.
"""
import ast
import os
import shutil
import subprocess
import sys

# name -> (what it is, how to get it)
TOOLS = {
    "nc": ("OpenBSD netcat", "apt-get install netcat-openbsd"),
    "ncat": ("Nmap's ncat", "apt-get install ncat"),
    "socat": ("socat", "apt-get install socat"),
    "root": ("root privileges", "run the suite as root"),
    "ip": ("the ip command", "apt-get install iproute2"),
    "ss": ("the ss command", "apt-get install iproute2"),
    "timeout": ("GNU timeout", "apt-get install coreutils"),
    "prlimit": ("prlimit", "apt-get install util-linux"),
    "make": ("make", "apt-get install make"),
}

_missing = {}


def _check(tool):
    if tool == "root":
        return None if os.geteuid() == 0 else "not root (euid %d)" % os.geteuid()
    path = shutil.which(tool)
    if not path:
        what = TOOLS[tool][0]
        return "%s not found" % (tool if what == tool else "%s (%s)" % (tool, what))
    if tool == "nc":  # the cases use OpenBSD's flags (-N, -U, -z)
        try:
            r = subprocess.run([path, "-h"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=10)
        except (OSError, subprocess.SubprocessError) as e:
            return "%s -h failed (%s)" % (path, e)
        if b"OpenBSD netcat" not in r.stdout:
            return "%s is not OpenBSD netcat" % path
    return None


def missing(tool):
    """None when `tool` is usable here, else why not, with the fix: "nc (OpenBSD
    netcat) not found: apt-get install netcat-openbsd". Cached per process."""
    if tool not in TOOLS:
        raise ValueError("unknown tool %r for needs() (known: %s)" % (tool, ", ".join(TOOLS)))
    if tool not in _missing:
        why = _check(tool)
        _missing[tool] = None if why is None else "%s: %s" % (why, TOOLS[tool][1])
    return _missing[tool]


def _needs_of(decorators, where):
    """The tools named by needs(...) decorators in a decorator list."""
    tools = []
    for d in decorators:
        if not isinstance(d, ast.Call):
            continue
        f = d.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        if name != "needs":
            continue
        for a in d.args:
            if not (isinstance(a, ast.Constant) and isinstance(a.value, str)):
                raise ValueError("%s: needs() takes tool names as string literals" % where)
            if a.value not in TOOLS:
                raise ValueError("%s: unknown tool %r in needs() (known: %s)"
                                 % (where, a.value, ", ".join(TOOLS)))
            tools.append(a.value)
    return tools


def scan(path):
    """The marked cases of one test file: [(case, tools)], case "Class.test_name", or
    "Class" for a marked class whose tests are not all plain `def test_*` in its body
    (made by a decorator such as each_model): that entry runs the whole class."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        where = "%s:%d %s" % (path, cls.lineno, cls.name)
        ctools = _needs_of(cls.decorator_list, where)
        defs = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        tests = [n for n in defs if n.name.startswith("test")]
        generated = any(n.name.startswith("each_") for n in defs) or not tests
        if ctools and generated:
            out.append((cls.name, sorted(set(ctools))))
            continue
        for fn in tests:
            tools = ctools + _needs_of(fn.decorator_list, "%s.%s" % (where, fn.name))
            if tools:
                out.append(("%s.%s" % (cls.name, fn.name), sorted(set(tools))))
    return out


def _test_files(dirs):
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if name.startswith("test_") and name.endswith(".py"):
                yield os.path.join(d, name)


def main(argv):
    if len(argv) >= 2 and argv[0] == "--ctest":
        # For CMake: "FILE|CASE" per marked case, in file order.
        for path in argv[1:]:
            for case, _ in scan(path):
                print("%s|%s" % (path, case))
        return 0
    if len(argv) >= 2 and argv[0] == "--missing":
        # For make test: a line per missing tool that some case needs.
        count = {}
        for path in _test_files(argv[1:]):
            for _, tools in scan(path):
                for t in tools:
                    count[t] = count.get(t, 0) + 1
        for tool in sorted(count):
            why = missing(tool)
            if why:
                n = count[tool]
                print("make test: %s; %d test case%s that need%s it will be skipped, each "
                      "named at the end" % (why, n, "" if n == 1 else "s", "s" if n == 1 else ""))
        return 0
    sys.stderr.write("usage: sktools.py --ctest FILE... | --missing DIR...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
